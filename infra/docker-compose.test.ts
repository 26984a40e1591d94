import { describe, expect, test } from "bun:test"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { parse } from "yaml"
import { loadConfig } from "../shared/config.ts"
import { prometheusConfig } from "./monitoring/prometheus-config.ts"

// Docker cannot run where the tests run, so this checks what usually drifts: the app's
// environment against what loadConfig reads, and the addresses against the services.

type Service = {
  image?: string
  volumes?: string[]
  environment?: Record<string, string | number | boolean | null> | string[]
  ports?: (string | number | { target: number | string; published?: number | string })[]
}

const root = join(import.meta.dir, "..")
// Compose resolves `<<` merge keys, so the parser must too.
const compose = parse(readFileSync(join(root, "docker-compose.yml"), "utf8"), { merge: true }) as {
  services: Record<string, Service>
}
const services = compose.services
const appServices = ["migrate", "gateway", "reserver"] as const

const service = (name: string): Service => {
  const found = services[name]
  if (!found) throw new Error(`docker-compose.yml has no service "${name}"`)
  return found
}

/** A service's environment as KEY -> value, from either the map or the KEY=VALUE list form. */
const environmentOf = (name: string): Record<string, string | undefined> => {
  const env = service(name).environment ?? {}
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const eq = entry.indexOf("=")
        return eq === -1 ? [entry, undefined] : [entry.slice(0, eq), entry.slice(eq + 1)]
      }),
    )
  }
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, value === null ? undefined : String(value)]))
}

/** Published ports as { host, container }, from short ("[ip:]host:container[/proto]") or long syntax. */
const publishedPorts = (name: string): { host: number; container: number }[] =>
  (service(name).ports ?? []).flatMap((port) => {
    if (typeof port === "object") {
      return port.published === undefined ? [] : [{ host: Number(port.published), container: Number(port.target) }]
    }
    const parts = String(port).replace(/\/\w+$/, "").split(":")
    if (parts.length < 2) return []
    return [{ host: Number(parts.at(-2)), container: Number(parts.at(-1)) }]
  })

/** Every variable name shared/config.ts reads: helper calls like integer(env, "PORT", ...) and env.X. */
const configVariables = (): Set<string> => {
  const source = readFileSync(join(root, "shared", "config.ts"), "utf8")
  const names = new Set<string>()
  for (const match of source.matchAll(/\b\w+\(env, "([A-Z][A-Z0-9_]*)"/g)) names.add(match[1]!)
  for (const match of source.matchAll(/\benv\.([A-Z][A-Z0-9_]*)/g)) names.add(match[1]!)
  return names
}

describe("docker-compose.yml", () => {
  test("defines the stack's services", () => {
    for (const name of ["kafka", "postgres", "redis", "jaeger", ...appServices]) {
      expect(services).toHaveProperty(name)
    }
  })

  test("app services set only variables loadConfig reads, or OpenTelemetry ones", () => {
    const known = configVariables()
    // Guards against the source scan silently finding nothing.
    for (const name of ["NODE_ENV", "JWT_SECRET", "PORT", "DATABASE_URL", "KAFKA_BROKERS"]) {
      expect(known).toContain(name)
    }
    for (const name of appServices) {
      const unknown = Object.keys(environmentOf(name)).filter((key) => !known.has(key) && !key.startsWith("OTEL_"))
      expect({ service: name, unknown }).toEqual({ service: name, unknown: [] })
    }
  })

  test("app environments pass loadConfig; the gateway listens on all interfaces on the published 8200", () => {
    for (const name of appServices) expect(() => loadConfig(environmentOf(name))).not.toThrow()
    const gateway = loadConfig(environmentOf("gateway"))
    expect(gateway.port).toBe(8200)
    // Inside a container, the 127.0.0.1 default would be unreachable through the published port.
    expect(gateway.host).toBe("0.0.0.0")
    expect(publishedPorts("gateway")).toContainEqual({ host: 8200, container: 8200 })
  })

  test("app services address PostgreSQL, Redis and Kafka by service name and container port", () => {
    const postgresEnv = environmentOf("postgres")
    const advertised = (environmentOf("kafka").KAFKA_ADVERTISED_LISTENERS ?? "").split(",").map((l) => l.trim())
    const listeners = (environmentOf("kafka").KAFKA_LISTENERS ?? "").split(",").map((l) => l.trim())
    for (const name of appServices) {
      const config = loadConfig(environmentOf(name))

      const database = new URL(config.databaseUrl)
      expect(database.hostname).toBe("postgres")
      expect(database.port).toBe("5432")
      expect(database.pathname).toBe(`/${postgresEnv.POSTGRES_DB}`)

      const redis = new URL(config.redisUrl)
      expect(redis.hostname).toBe("redis")
      expect(redis.port).toBe("6379")

      for (const broker of config.kafkaBrokers) {
        const [host, port] = broker.split(":")
        expect(services).toHaveProperty(host!)
        // The broker must advertise exactly this address, on a listener it actually binds.
        const listener = advertised.find((l) => l.endsWith(`://${broker}`))
        expect(listener).toBeDefined()
        const listenerName = listener!.split("://")[0]
        expect(listeners.some((l) => l.startsWith(`${listenerName}://`) && l.endsWith(`:${port}`))).toBe(true)
      }
    }
  })

  test("PostgreSQL and Redis are published on the local stack's default ports", () => {
    const defaults = loadConfig({})
    expect(publishedPorts("postgres")).toContainEqual({ host: Number(new URL(defaults.databaseUrl).port), container: 5432 })
    expect(publishedPorts("redis")).toContainEqual({ host: Number(new URL(defaults.redisUrl).port), container: 6379 })
  })

  test("Prometheus scrapes the published gateway and reserver ports with the alerting rules, as monitoring:start does", () => {
    const mounts = Object.fromEntries((service("prometheus").volumes ?? []).map((volume) => volume.split(":")).map(([host, container]) => [container!, host!]))
    const config = parse(readFileSync(join(root, mounts["/etc/prometheus/prometheus.yml"]!), "utf8"))
    const rules = config.rule_files as string[]
    for (const file of rules) expect(existsSync(join(root, mounts[file]!))).toBe(true)
    const gateway = `gateway:${loadConfig(environmentOf("gateway")).port}`
    const reserver = `reserver:${loadConfig(environmentOf("reserver")).metricsPort}`
    expect(config).toEqual(JSON.parse(prometheusConfig({ gateway, reserver, ruleFiles: rules, intervalSeconds: 5 })))
  })

  test("Grafana is provisioned with the dashboards in the repository and a data source at the Prometheus service", () => {
    const mounts = Object.fromEntries((service("grafana").volumes ?? []).map((volume) => volume.split(":")).map(([host, container]) => [container!, host!]))
    const provisioning = join(root, mounts["/etc/grafana/provisioning"]!)
    const dashboards = parse(readFileSync(join(provisioning, "dashboards", "ticketing.yml"), "utf8")).providers[0].options.path as string
    expect(existsSync(join(root, mounts[dashboards]!, "ticketing.json"))).toBe(true)
    expect(environmentOf("grafana").GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(`${dashboards}/ticketing.json`)
    const [source] = parse(readFileSync(join(provisioning, "datasources", "prometheus.yml"), "utf8")).datasources
    expect(source.url).toBe("http://prometheus:9090")
    expect(publishedPorts("prometheus")).toContainEqual({ host: 9090, container: 9090 })
    expect(publishedPorts("grafana")).toContainEqual({ host: 3000, container: 3000 })
    // Every panel queries the data source provisioned here.
    const dashboard = JSON.parse(readFileSync(join(root, mounts[dashboards]!, "ticketing.json"), "utf8")) as { panels: { type: string; datasource?: { uid: string } }[] }
    const uids = new Set(dashboard.panels.filter((p) => p.type !== "row").map((p) => p.datasource?.uid))
    expect([...uids]).toEqual([source.uid])
  })
})
