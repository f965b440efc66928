/** Wires the domain libraries to HTTP: config and database are built outside Nest and handed in. */
import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import {
  ApiKeysRepository,
  AuditRepository,
  CatalogueRepository,
  DbComponentStoreFactory,
  DecisionsRepository,
  EventsRepository,
  IdempotencyRepository,
  KeyedQueue,
  MetricsRepository,
  OutboxRepository,
  PayoutsRepository,
  PgLedgerStoreFactory,
  RefundDecisionsRepository,
  FeatureHistoryRepository,
  RefundsRepository,
  ReleaseActivationsRepository,
  RetentionRepository,
  SubjectsRepository,
  ReviewsRepository,
  SimulationsRepository,
  systemClock,
  uuidv7Ids,
  type Clock,
  type Database,
  type IdFactory,
} from '../../libs/persistence/index.js';
import { AdminController } from './admin/admin.controller.js';
import { AuthGuard } from './auth/auth.guard.js';
import { ApiKeySync } from './auth/api-key-sync.js';
import { ApiKeyCache } from './auth/key-cache.js';
import { ApiKeysController } from './keys/api-keys.controller.js';
import { SessionController } from './keys/session.controller.js';
import { ApiKeysService } from './keys/api-keys.service.js';
import { ApiKeyRateLimit, FailedAuthLimiter } from './auth/rate-limiter.js';
import { SharedRateLimitStore } from './auth/rate-limit-store.js';
import type { AppConfig } from './config.js';
import { DecisionsController } from './decisions/decisions.controller.js';
import { DecisionsService } from './decisions/decisions.service.js';
import { DecisionTypesController } from './decision-types/decision-types.controller.js';
import { DecisionTypesService } from './decision-types/decision-types.service.js';
import { DatabaseAvailability } from './health/database-availability.js';
import { HealthController } from './health/health.controller.js';
import { IdempotentCommandInterceptor } from './http/idempotent-command.js';
import { LegacyRequestHashes } from './http/legacy-request-hashes.js';
import { ProblemFilter } from './http/problem.filter.js';
import { QueryParamsGuard } from './http/query.js';
import { ReleaseRegistry } from './releases/release.registry.js';
import { ReleaseSync } from './releases/release-sync.js';
import { APP_CONFIG, CLOCK, CONTENT_SOURCE, DATABASE, ID_FACTORY, PAYMENT_PROVIDER, POLICY_BUDGET } from './tokens.js';
import { FileComponentSource } from '../../libs/decisions/index.js';
import { LedgerController } from './ledger/ledger.controller.js';
import { LedgerService } from './ledger/ledger.service.js';
import { ActivationService } from './releases/activation.service.js';
import { PolicyBundlesController, RulePacksController } from './catalogue/catalogue.controller.js';
import { CatalogueService } from './catalogue/catalogue.service.js';
import { ReleasesService } from './releases/releases.service.js';
import { ReleasesController } from './releases/releases.controller.js';
import { ShadowService } from './releases/shadow.service.js';
import { AuditController } from './audit/audit.controller.js';
import { AuditService } from './audit/audit.service.js';
import { LedgerSimulationService } from './simulations/ledger-simulation.service.js';
import { SimulationJobs } from './simulations/simulation-jobs.js';
import { SimulationsController } from './simulations/simulations.controller.js';
import { SimulationsService } from './simulations/simulations.service.js';
import { ReviewOverdueSweeper } from './reviews/overdue-sweeper.js';
import { Pseudonyms } from './decisions/pseudonyms.js';
import { RetentionSweeper } from './retention/retention-sweeper.js';
import { SubjectsController } from './subjects/subjects.controller.js';
import { SchemasController } from './schemas/schemas.controller.js';
import { SubjectsService } from './subjects/subjects.service.js';
import { ReviewsController } from './reviews/reviews.controller.js';
import { ReviewsService } from './reviews/reviews.service.js';
import { NatsPublisher } from './events/nats-publisher.js';
import { OutboxRelay } from './events/outbox-relay.js';
import { WebhookDispatcher } from './events/webhook-dispatcher.js';
import { WebhooksController } from './events/webhooks.controller.js';
import { WebhooksService } from './events/webhooks.service.js';
import { RefundDecisions } from './refunds/refund-decisions.js';
import { RefundsController } from './refunds/refunds.controller.js';
import { RefundsService } from './refunds/refunds.service.js';
import { PayoutsController } from './payouts/payouts.controller.js';
import { PayoutsService } from './payouts/payouts.service.js';
import { PayoutWorker } from './payouts/payout.worker.js';
import { paymentProviderFrom } from './payouts/payment-provider.js';
import { Metrics } from './metrics/metrics.js';
import { MetricsController } from './metrics/metrics.controller.js';
import { MetricsScrape } from './metrics/metrics-scrape.js';
import { Tracing } from './tracing/tracing.js';

/** Repositories minting their own row ids get the app's id factory. */
const withIds = <T>(Repository: new (ids: IdFactory) => T) => ({
  provide: Repository,
  useFactory: (ids: IdFactory) => new Repository(ids),
  inject: [ID_FACTORY],
});

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, db: Database): DynamicModule {
    return {
      module: AppModule,
      controllers: [
        HealthController,
        AdminController,
        DecisionsController,
        DecisionTypesController,
        LedgerController,
        SimulationsController,
        RulePacksController,
        PolicyBundlesController,
        ReleasesController,
        AuditController,
        ReviewsController,
        ApiKeysController,
        SessionController,
        WebhooksController,
        RefundsController,
        PayoutsController,
        SubjectsController,
        SchemasController,
        MetricsController,
      ],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: DATABASE, useValue: db },
        { provide: CONTENT_SOURCE, useValue: new FileComponentSource(config.contentRoot) },
        { provide: POLICY_BUDGET, useValue: { steps: config.policyEvaluationSteps, memoryMiB: config.policyMemoryMiB } },
        { provide: CLOCK, useValue: systemClock },
        { provide: ID_FACTORY, useValue: uuidv7Ids },
        // Repositories are plain classes of libs/persistence (no Nest there): provided here, injected where used.
        withIds(ApiKeysRepository),
        // The chain stamps each row's time once it holds its tenant's head (AuditRepository.append).
        { provide: AuditRepository, useFactory: (ids: IdFactory, clock: Clock) => new AuditRepository(ids, clock), inject: [ID_FACTORY, CLOCK] },
        withIds(ReleaseActivationsRepository),
        withIds(OutboxRepository),
        withIds(EventsRepository),
        withIds(RefundsRepository),
        withIds(ReviewsRepository),
        { provide: IdempotencyRepository, useClass: IdempotencyRepository },
        // One per process: state changes on one key wait for each other here, not on a pooled connection.
        { provide: KeyedQueue, useValue: new KeyedQueue({ waitMs: config.dbAcquireTimeoutMs }) },
        { provide: DecisionsRepository, useClass: DecisionsRepository },
        { provide: RefundDecisionsRepository, useClass: RefundDecisionsRepository },
        { provide: FeatureHistoryRepository, useClass: FeatureHistoryRepository },
        { provide: CatalogueRepository, useClass: CatalogueRepository },
        { provide: SimulationsRepository, useClass: SimulationsRepository },
        { provide: RetentionRepository, useClass: RetentionRepository },
        { provide: SubjectsRepository, useClass: SubjectsRepository },
        // The outbox lets the ledger store report an account's Reward Integrity turning false (ledger.integrity_violated).
        { provide: PgLedgerStoreFactory, useFactory: (outbox: OutboxRepository) => new PgLedgerStoreFactory(outbox), inject: [OutboxRepository] },
        { provide: DbComponentStoreFactory, useFactory: (repo: CatalogueRepository) => new DbComponentStoreFactory(repo), inject: [CatalogueRepository] },
        { provide: APP_GUARD, useClass: AuthGuard },
        // After authentication (a caller without a key learns nothing about a route's parameters).
        { provide: APP_GUARD, useClass: QueryParamsGuard },
        SharedRateLimitStore,
        FailedAuthLimiter,
        ApiKeyRateLimit,
        ApiKeyCache,
        ApiKeySync,
        ApiKeysService,
        { provide: APP_FILTER, useClass: ProblemFilter },
        DatabaseAvailability,
        ReleaseRegistry,
        ReleaseSync,
        IdempotentCommandInterceptor,
        LegacyRequestHashes,
        DecisionsService,
        Pseudonyms,
        DecisionTypesService,
        LedgerService,
        CatalogueService,
        ReleasesService,
        ActivationService,
        ShadowService,
        SimulationJobs,
        SimulationsService,
        LedgerSimulationService,
        ReviewsService,
        ReviewOverdueSweeper,
        AuditService,
        RetentionSweeper,
        SubjectsService,
        WebhooksService,
        WebhookDispatcher,
        NatsPublisher,
        OutboxRelay,
        RefundDecisions,
        RefundsService,
        // Payout execution: the provider chosen by PAYMENT_PROVIDER, the worker, the manual retry.
        { provide: PAYMENT_PROVIDER, useValue: paymentProviderFrom(config) },
        { provide: PayoutsRepository, useFactory: (refunds: RefundsRepository, outbox: OutboxRepository) => new PayoutsRepository(refunds, outbox), inject: [RefundsRepository, OutboxRepository] },
        PayoutWorker,
        PayoutsService,
        // Metrics: one registry per app (metrics/metrics.ts), the scrape-time reads behind GET /metrics.
        Metrics,
        MetricsScrape,
        { provide: MetricsRepository, useClass: MetricsRepository },
        // OpenTelemetry spans of the service's own work (decisions); nothing at all when tracing is off.
        Tracing,
      ],
    };
  }
}
