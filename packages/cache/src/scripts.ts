/**
 * Lua scripts run through ioredis's own `defineCommand`, which sends EVALSHA and falls back to EVAL when
 * the server does not know the script yet (after a restart or failover), and prefixes KEYS with the
 * client's keyPrefix. The command is defined on the client the first time it is used, under a name
 * of ours (`flashsaleCache…`), so it cannot collide with the application's own commands.
 */
import type { Redis } from 'ioredis'

export interface LuaScript {
  readonly name: string
  readonly keys: number
  readonly lua: string
}

type ScriptCall = (...keysAndArgs: (string | number | Buffer)[]) => Promise<unknown>

function ensureDefined(redis: Redis, script: LuaScript): void {
  if (typeof (redis as unknown as Record<string, unknown>)[script.name] !== 'function') {
    redis.defineCommand(script.name, { numberOfKeys: script.keys, lua: script.lua })
  }
}

export function runScript(redis: Redis, script: LuaScript, ...keysAndArgs: (string | number | Buffer)[]): Promise<unknown> {
  ensureDefined(redis, script)
  return ((redis as unknown as Record<string, ScriptCall>)[script.name] as ScriptCall).call(redis, ...keysAndArgs)
}
