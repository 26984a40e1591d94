// The gateway under Node, served by Elysia's Node adapter, for 0x and clinic flame (profiles/profile-node.ts
// builds it with `bun build --target=node` and runs the bundle).
import { node } from "@elysiajs/node"
import { startGateway } from "../../gateway/start-gateway.ts"
import { polyfillPromiseWithResolvers } from "./node20.ts"

// In the bundle import.meta.url names the bundle, so config's default data folder would be wrong; the JWT
// secret file lives there, and the profile signs its session token with it.
if (!process.env.DATA_DIR && !process.env.JWT_SECRET) {
  console.error("gateway-node: set DATA_DIR (the stack's .data folder) or JWT_SECRET")
  process.exit(2)
}
polyfillPromiseWithResolvers()
await startGateway(process.env, { adapter: node() })
