/**
 * Lua scripts, the one way the project runs them (the cache, the rate limiter, the stock gate): through
 * ioredis's own `defineCommand`, which sends EVALSHA and falls back to EVAL when the server does not know the
 * script yet (after a restart or a failover: a new master never saw it), and prefixes KEYS with the client's
 * keyPrefix (https://github.com/redis/ioredis#lua-scripting). A script is defined on a client the first time
 * it is asked for, under a name of ours, so it cannot collide with another command.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Redis } from 'ioredis'

export interface LuaScript {
  /** The command's name on the client: prefix it with its owner (flashsaleCache…, inv…). */
  readonly name: string
  /** How many of the arguments are keys; undefined: the caller passes the key count first (a variable number). */
  readonly keys?: number
  readonly lua: string
}

export type ScriptArg = string | number | Buffer
export type ScriptCall<R = unknown> = (...keysAndArgs: ScriptArg[]) => Promise<R>

/** The script's command on this client, defined once. */
export function scriptCommand<R = unknown>(redis: Redis, script: LuaScript): ScriptCall<R> {
  const commands = redis as unknown as Record<string, unknown>
  if (typeof commands[script.name] !== 'function') {
    redis.defineCommand(script.name, { lua: script.lua, ...(script.keys === undefined ? {} : { numberOfKeys: script.keys }) })
  }
  return (commands[script.name] as ScriptCall<R>).bind(redis)
}

/** Runs the script (defining it on the client the first time). */
export function runScript(redis: Redis, script: LuaScript, ...keysAndArgs: ScriptArg[]): Promise<unknown> {
  return scriptCommand(redis, script)(...keysAndArgs)
}

/** A script kept in a .lua file of its own, with an optional prelude of shared functions in front. */
export function readLua(dir: string, file: string, prelude = ''): string {
  const body = readFileSync(join(dir, file), 'utf8')
  return prelude === '' ? body : `${prelude}\n${body}`
}
