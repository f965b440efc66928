/** The payment provider the configuration names (PAYMENT_PROVIDER). */
import { HttpProvider, SimulatedProvider, type PaymentProvider } from '../../../libs/payments/index.js';
import type { AppConfig } from '../config.js';

export function paymentProviderFrom(c: AppConfig): PaymentProvider {
  if (c.paymentProvider === 'http') {
    // loadConfig refuses http without a URL.
    return new HttpProvider({ url: c.paymentProviderUrl!, timeoutMs: c.paymentProviderTimeoutMs, apiKey: c.paymentProviderApiKey });
  }
  return new SimulatedProvider({ latencyMs: c.simulatedProviderLatencyMs, failureRate: c.simulatedProviderFailureRate, seed: c.simulatedProviderSeed });
}
