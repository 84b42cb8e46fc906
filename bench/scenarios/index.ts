// Every scenario of `make bench`, in the order they run (ONLY= picks some by id).
import { Scenario } from '../harness';
import { soapScenario } from './soap';
import { fileScenario } from './file-drop';

export const SCENARIOS: Scenario[] = [
  soapScenario,
  fileScenario,
];
