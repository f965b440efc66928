/** Reward ledger (seed paper 002, sections 4–6): per-transaction rewards, proportional clawback, statement reconciliation and an OPA redemption gate. Framework-free. */
export { REDEMPTION_GATE_ENTRYPOINT, REDEMPTION_GATE_FAILED, OpaRedemptionGate } from './gate.js';
export type { RedemptionGate, RedemptionGateInput, RedemptionGateReason, RedemptionGateResult } from './gate.js';
export { canonicalTimestamp } from './guards.js';
export { adjustmentPredicate, transactionPredicate } from './filters.js';
export { figuresOf, integrity, parseIntegrityTotals, totalsOf, transactionPeriod, withChanges } from './integrity.js';
export type { IntegrityReport, IntegrityTotals, IntegrityViolation } from './integrity.js';
export { Ledger, transactionView } from './ledger.js';
export type {
  AccountView,
  AdjustmentResult,
  ChargebackInput,
  ClawbackScope,
  CloseStatementInput,
  FoldedRefund,
  OpenAccountInput,
  PurchaseInput,
  RedeemInput,
  RedeemOptions,
  RedemptionOutcome,
  RefundInput,
  SettleInput,
  StatementClawback,
  StatementResult,
  StatementReward,
  TransactionView,
} from './ledger.js';
export { InMemoryLedgerStore } from './memory-store.js';
export { applyRate, roundHalfEven } from './money.js';
export { addDays, isPeriodBoundary, periodBoundsMs, periodOf } from './periods.js';
export type { BillingPeriod } from './periods.js';
export { programFromPack, rateBpsOf, REWARD_PROGRAM_KIND, rewardProgramParametersSchema, StaticProgramResolver } from './program.js';
export type { ClawbackMode, ProgramResolver, RewardProgram, RewardProgramParameters, RewardTiming } from './program.js';
export { ledgerEventsSchema, simulateLedger, validateLedgerEvents } from './simulate.js';
export type { LedgerEvent, SimulationOptions, SimulationResult, SimulationSnapshot, SimulationStep, SimulationStepResult } from './simulate.js';
export type {
  AdjustmentFilter,
  AdjustmentKind,
  EntryCause,
  EntryCauseKind,
  EntryType,
  GateDecision,
  LedgerAccount,
  LedgerAdjustment,
  LedgerEntry,
  LedgerReads,
  LedgerStore,
  LedgerTransaction,
  LedgerUnitOfWork,
  RedemptionRecord,
  TransactionFilter,
  TransactionStatus,
  IntegrityVerdict,
} from './types.js';
