// Every scenario of `make bench`, in the order they run (ONLY= picks some by id).
import { Scenario } from '../harness';
import { restScenario } from './rest';
import { latencyScenario } from './latency';
import { soapScenario } from './soap';
import { fileScenario } from './file-drop';
import { readsScenario } from './reads';
import { clusterScenario } from './cluster';

export const SCENARIOS: Scenario[] = [
  restScenario,
  // After rest: it paces at half of rest's PostgreSQL figure from the same run.
  latencyScenario,
  soapScenario,
  fileScenario,
  readsScenario,
  clusterScenario,
];
