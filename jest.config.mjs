// Tests are ES modules (the XMPP client library is ESM-only); `npm test`
// runs jest with --experimental-vm-modules for that.
export default {
	// One fengari per worker for the Lua tests (see spec/support/jest_environment.mjs).
	testEnvironment: "<rootDir>/spec/support/jest_environment.mjs",
	extensionsToTreatAsEsm: [".ts"],
	transform: {
		"^.+\\.ts$": ["ts-jest", { useESM: true, tsconfig: "spec/tsconfig.json" }],
	},
	moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
	testMatch: ["<rootDir>/spec/**/*.test.ts"],
	// End-to-end tests start real servers and wait on the network.
	testTimeout: 30_000,
	// Never test a stale dist-lua/ (tools/check-build-fresh.mjs).
	globalSetup: "<rootDir>/tools/check-build-fresh.mjs",
};
