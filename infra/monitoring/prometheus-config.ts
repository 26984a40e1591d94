/** Where Prometheus finds the two processes and the rules, and how often it looks. */
export type PrometheusTargets = { gateway: string; reserver: string; ruleFiles: string[]; intervalSeconds: number }

/**
 * A Prometheus configuration scraping the gateway and the reserver as the jobs alerts.yml names
 * (`ticketing-gateway`, `ticketing-reserver`). JSON is YAML, so no YAML writer is needed.
 */
export function prometheusConfig({ gateway, reserver, ruleFiles, intervalSeconds }: PrometheusTargets): string {
  const interval = `${intervalSeconds}s`
  return JSON.stringify(
    {
      global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: `${Math.min(intervalSeconds, 10)}s` },
      rule_files: ruleFiles,
      scrape_configs: [
        { job_name: "ticketing-gateway", static_configs: [{ targets: [gateway] }] },
        { job_name: "ticketing-reserver", static_configs: [{ targets: [reserver] }] },
      ],
    },
    null,
    2,
  )
}

// `bun infra/monitoring/prometheus-config.ts <gateway> <reserver> <rules.yml> [interval s]` prints the configuration (infra/monitoring.sh).
if (import.meta.main) {
  const [gateway, reserver, rules, interval = "5"] = process.argv.slice(2)
  if (!gateway || !reserver || !rules) throw new Error("usage: prometheus-config.ts <gateway host:port> <reserver host:port> <rules file> [interval seconds]")
  console.log(prometheusConfig({ gateway, reserver, ruleFiles: [rules], intervalSeconds: Number(interval) }))
}
