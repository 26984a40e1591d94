// A gateway in a process of its own (on Deno, or Node's bundle) for integration tests: started on a free
// loopback port with a test's database, Redis prefix, command topic and secret, and stopped again.
import { eventually, freePort } from "./helpers.ts"

/** What a test's gateway process is given; the rest comes from the test environment. */
export type GatewayProcessEnv = { databaseUrl: string; redisPrefix: string; commandTopic: string; jwtSecret: string; extra?: Record<string, string> }

/** A running gateway process: its base URL, what it printed so far, and stop. */
export type GatewayProcess = { url: string; pid: number; output: () => string; stop: () => Promise<void> }

/** Runs `command` as a gateway on a free port and waits until GET /health answers 200 (or it exits). */
export async function startGatewayProcess(command: string[], env: GatewayProcessEnv, cwd: string): Promise<GatewayProcess> {
  const port = freePort()
  const url = `http://127.0.0.1:${port}`
  const child = Bun.spawn(command, {
    cwd,
    env: {
      ...process.env,
      NODE_ENV: "test",
      HOST: "127.0.0.1",
      PORT: String(port),
      DATABASE_URL: env.databaseUrl,
      REDIS_PREFIX: env.redisPrefix,
      COMMAND_TOPIC: env.commandTopic,
      DEAD_LETTER_TOPIC: `${env.commandTopic}.dlq`,
      JWT_SECRET: env.jwtSecret,
      LOG_LEVEL: process.env.TEST_LOG ?? "warn",
      ...env.extra,
    },
    stdout: "pipe",
    stderr: "pipe",
  })
  let output = ""
  for (const stream of [child.stdout, child.stderr]) {
    void (async () => {
      for await (const chunk of stream) output += new TextDecoder().decode(chunk)
    })()
  }
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode}`)
        return (await fetch(`${url}/health`).catch(() => undefined))?.status === 200 ? true : undefined
      },
      60_000,
      `${command.join(" ")} to answer healthy`,
    )
  } catch (error) {
    child.kill("SIGKILL")
    throw new Error(`the gateway process did not answer healthy: ${error instanceof Error ? error.message : String(error)}\n${output}`)
  }
  return {
    url,
    pid: child.pid,
    output: () => output,
    async stop() {
      child.kill("SIGTERM")
      const code = await Promise.race([child.exited, Bun.sleep(20_000).then(() => undefined)])
      if (code === undefined) child.kill("SIGKILL")
      if (code !== 0 && code !== undefined) throw new Error(`the gateway process stopped with exit code ${code}:\n${output}`)
    },
  }
}
