// Every scenario of `make bench`, in the order they run (ONLY= picks some by id).
import { Scenario } from '../harness';
import { readsScenario } from './reads';
import { clusterScenario } from './cluster';

export const SCENARIOS: Scenario[] = [
  readsScenario,
  clusterScenario,
];
