/**
 * The English catalogue: every string the console shows, one module per area, so a translation is a copy of this
 * folder. Components never hold text of their own; they call t('area.key', {vars}).
 */
import { common } from './common.js';
import { explain } from './explain.js';
import { reviews } from './reviews.js';
import { auditors } from './auditors.js';
import { authors } from './authors.js';

export const en = { ...common, explain, reviews, auditors, authors } as const;
