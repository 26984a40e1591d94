// Builds the gateway's Node bundle (profiles/node/gateway-node.ts) for the Node profilers.
import { copyFileSync } from "node:fs"
import { join } from "node:path"

const root = join(import.meta.dir, "../..")

// Left out of the bundle and loaded from node_modules at run time: @platformatic/kafka reads a
// .wasm file next to its own module, and @node-rs/argon2 loads its platform's addon, neither of which a
// bundle would have beside it. (The /docs page's swagger-ui-dist files are read from node_modules too:
// gateway/api-docs.ts resolves them.)
const EXTERNAL = ["@platformatic/kafka", "@node-rs/argon2"]

/** Runs `bun build --target=node` into `outdir`; answers the bundle's path, or throws with the build's stderr. */
export async function buildNodeBundle(outdir: string): Promise<string> {
  const build = Bun.spawn(
    [process.execPath, "build", "--target=node", ...EXTERNAL.flatMap((name) => ["--external", name]), "--outdir", outdir, join(root, "profiles/node/gateway-node.ts")],
    { stdout: "ignore", stderr: "pipe" },
  )
  const [code, stderr] = await Promise.all([build.exited, new Response(build.stderr).text()])
  if (code !== 0 || stderr !== "") throw new Error(`bun build --target=node failed (exit ${code}): ${stderr}`)
  // Files the gateway reads beside its modules at startup; the bundle looks for them beside itself.
  for (const file of ["gateway/live/live-page.html"]) copyFileSync(join(root, file), join(outdir, file.split("/").at(-1)!))
  return join(outdir, "gateway-node.js")
}
