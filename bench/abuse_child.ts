/**
 * The abuse runs inside their network namespace (harness/server/netns.ts): what
 * runAbuse() hands over, run here, the runs and the failed ones back.
 */
import { runAbuseHere, type AbuseOptions } from "./abuse.js";
import { namespaceInput, namespaceOutput } from "../harness/server/netns.js";
import { failedRuns } from "./retry.js";

const runs = await runAbuseHere(namespaceInput<AbuseOptions>(), (line) => console.log(line));
namespaceOutput({ runs, failed: failedRuns });
