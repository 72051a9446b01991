/** The typed Prosody API, one file per Prosody component. */
export type * from "./events";
export type * from "./jid";
export type * from "./libraries";
export type * from "./mod_invites";
export type * from "./moduleapi";
export type * from "./prosody";
export type * from "./rostermanager";
export type * from "./session";
export type * from "./sql";
export type * from "./stanza";
export type * from "./statsmanager";
export type * from "./storage";
export type * from "./usermanager";
export type * from "./util";
