// The page's own telemetry through Grafana Faro: uncaught errors, web vitals and a few events,
// sent to where the agent's page declares (<meta name="hearth-faro-url">): the agent's own
// /collect, or a Grafana Alloy faro.receiver given with `hearth agent --faro-url`.
import { getWebInstrumentations, initializeFaro, type Faro } from '@grafana/faro-web-sdk';

declare const HEARTH_VERSION: string;

/** Names of the events the page sends. */
export type UiEvent = 'function_selected' | 'flamegraph_opened';

let faro: Faro | undefined;

export function startTelemetry(): void {
  const declared = document.querySelector<HTMLMetaElement>('meta[name="hearth-faro-url"]')?.content ?? '/collect';
  faro = initializeFaro({
    url: new URL(declared, location.href).href,
    app: { name: 'hearth-agent-ui', version: HEARTH_VERSION },
    // Resource timings would report every refresh of the page's data: noise, not signal.
    instrumentations: getWebInstrumentations({ enablePerformanceInstrumentation: false }),
  });
}

export function track(event: UiEvent, attributes: Record<string, string>): void {
  faro?.api.pushEvent(event, attributes);
}
