// The factory of shared_lua.mjs; the shape of what it makes is lua_state.ts's SharedLua.
export function makeSharedLua(): unknown;
