/**
 * The abuse runs inside their network namespace (spec/support/netns.ts): what
 * runAbuse() hands over, run here, the runs and the failed ones back.
 */
import { runAbuseHere, type AbuseOptions } from "./abuse.js";
import { namespaceInput, namespaceOutput } from "../spec/support/netns.js";
import { failedRuns } from "./retry.js";

const runs = await runAbuseHere(namespaceInput<AbuseOptions>(), (line) => console.log(line));
namespaceOutput({ runs, failed: failedRuns });
