import { DomainError } from '../../libs/errors/index.js';
import { fromDomainError, MAX_ERROR_DETAILS } from './problem.js';

describe('problem answers', () => {
  it('list at most MAX_ERROR_DETAILS details and say how many more there were', () => {
    const errors = Array.from({ length: 90_000 }, (_, i) => ({ path: `/k${i}`, message: `unknown property 'k${i}'` }));
    const p = fromDomainError(new DomainError('VALIDATION_FAILED', 'bad case', 'invalid', errors));
    expect(p.errors).toHaveLength(MAX_ERROR_DETAILS + 1);
    expect(p.errors[0]).toEqual(errors[0]);
    expect(p.errors[MAX_ERROR_DETAILS]).toEqual({ path: '', message: `${90_000 - MAX_ERROR_DETAILS} more errors not listed` });
  });

  it('keep every detail of an ordinary refusal', () => {
    const errors = [{ path: '/amount', message: 'must be an integer' }];
    expect(fromDomainError(new DomainError('VALIDATION_FAILED', 'bad case', 'invalid', errors)).errors).toEqual(errors);
  });

  it('answer a decision whose case was removed on purpose as 410 Gone', () => {
    expect(fromDomainError(new DomainError('DECISION_PURGED', 'purged', 'gone'))).toMatchObject({ status: 410, title: 'Gone', code: 'DECISION_PURGED' });
  });
});
