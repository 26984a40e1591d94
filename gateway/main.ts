import { startGateway } from "./start-gateway.ts"

await startGateway(process.env)
