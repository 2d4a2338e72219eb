export { check, type CheckOptions, type CheckResult } from './check.ts';
export { evaluate, GATES, type Evidence, type GateName, type GateResult } from './evaluate.ts';
export { renderJunit, renderSummary, type GatesReport } from './reports.ts';
export { rehearse, type RehearsalBase, type RehearsalEvidence, type SnippetRehearsal } from './rehearsal.ts';
