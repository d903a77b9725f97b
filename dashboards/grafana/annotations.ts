// Annotations drawn over panels. The tuner (pool sizes, keep-alive and GC limits from measured
// cold-start cost and GC share) is not written yet: it is to count each decision in
// hearth_tuner_decisions_total{function, setting}. Until it does, this query finds nothing,
// which is why it is an annotation (marks on the panels it changes) and never a panel.
import { AnnotationPanelFilterBuilder, AnnotationQueryBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { PROMETHEUS } from './datasources.js';
import { ofFunctions } from './promql.js';

export const TUNER_DECISIONS_METRIC = 'hearth_tuner_decisions_total';

/** A mark wherever the tuner changed a setting, on the panels whose settings it changes. */
export function tunerDecisions(panelIds: number[]): AnnotationQueryBuilder {
  return new AnnotationQueryBuilder()
    .name('Tuner decisions')
    .datasource(PROMETHEUS)
    .enable(true)
    .iconColor('orange')
    .expr(`sum by (host, function, setting) (increase(${ofFunctions(TUNER_DECISIONS_METRIC)}[$__interval])) > 0`)
    .step('$__interval')
    .titleFormat('tuner: {{function}} {{setting}}')
    .tagKeys('host,function,setting')
    .filter(new AnnotationPanelFilterBuilder().ids(panelIds));
}
