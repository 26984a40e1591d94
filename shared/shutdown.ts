import type { Logger } from "./log.ts"

/** Runs `stop` once on SIGINT/SIGTERM, then exits; a second signal exits at once. */
export function onShutdown(log: Logger, stop: () => Promise<unknown>): void {
  let stopping = false
  const handle = (signal: string) => {
    if (stopping) {
      log.warn("second signal, exiting now", { signal })
      process.exit(1)
    }
    stopping = true
    log.info("shutting down", { signal })
    const timer = setTimeout(() => {
      log.error("shutdown took over 15s, exiting")
      process.exit(1)
    }, 15_000)
    stop().then(
      () => {
        clearTimeout(timer)
        log.info("stopped")
        process.exit(0)
      },
      (error) => {
        log.error("shutdown failed", { error })
        process.exit(1)
      },
    )
  }
  process.on("SIGINT", () => handle("SIGINT"))
  process.on("SIGTERM", () => handle("SIGTERM"))
}
