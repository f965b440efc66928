/** A refund's state and its transitions (who moved it, when, why), for the case page and the decision page. */
import { t } from '../../i18n/index.js';
import { Badge } from '../../ui/Badge.js';
import { dateTime, money } from '../../ui/format.js';

export interface RefundView {
  refundId: string;
  state: string;
  requestedAmount: number;
  approvedAmount?: number | null;
  currency: string;
  history: { from: string | null; to: string; actor?: { id?: string; role?: string } | string | null; at: string; reason?: string | null }[];
}

export function RefundHistory({ refund }: { refund: RefundView }) {
  return (
    <>
      <p>
        {t('reviews.case.refundState', { id: refund.refundId, state: '' })}
        <Badge value={refund.state} /> {money(refund.approvedAmount || refund.requestedAmount, refund.currency)}
      </p>
      <div className="table-wrap" tabIndex={0}>
        <table>
          <thead>
            <tr>
              {(['at', 'from', 'to', 'actor', 'reason'] as const).map((c) => (
                <th key={c} scope="col">
                  {t(`reviews.case.historyColumns.${c}`)}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {refund.history.map((h, i) => (
              <tr key={i}>
                <td>{dateTime(h.at)}</td>
                <td>{h.from ?? '—'}</td>
                <td>{h.to}</td>
                <td>{typeof h.actor === 'string' ? h.actor : h.actor ? `${h.actor.role ?? ''} ${h.actor.id ?? ''}`.trim() : '—'}</td>
                <td>{h.reason ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
