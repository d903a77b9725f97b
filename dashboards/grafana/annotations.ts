// Annotations drawn over panels. The tuner (pool sizes, keep-alive and GC limits from measured
// cold-start cost and GC share) counts each decision in hearth_tuner_decisions_total{function,
// setting, outcome}; a decision is an event, so it is an annotation (marks on the panels whose
// settings it changes), not a panel.
import { AnnotationPanelFilterBuilder, AnnotationQueryBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { PROMETHEUS } from './datasources.js';
import { ofFunctions } from './promql.js';

export const TUNER_DECISIONS_METRIC = 'hearth_tuner_decisions_total';

/** A mark wherever the tuner changed a setting, on the panels whose settings it changes. */
export function tunerDecisions(panelIds: number[]): AnnotationQueryBuilder {
  const decisions = ofFunctions(TUNER_DECISIONS_METRIC);
  // increase() sees no step when a series is born at its first decision (no sample of 0
  // before it), so a series new in the interval marks too.
  return new AnnotationQueryBuilder()
    .name('Tuner decisions')
    .datasource(PROMETHEUS)
    .enable(true)
    .iconColor('orange')
    .expr(`sum by (host, function, setting) ((increase(${decisions}[$__interval]) > 0) or (${decisions} > 0 unless ${decisions} offset $__interval))`)
    .step('$__interval')
    .titleFormat('tuner: {{function}} {{setting}}')
    .tagKeys('host,function,setting')
    .filter(new AnnotationPanelFilterBuilder().ids(panelIds));
}
