import { openapi } from "@elysiajs/openapi"
import { Elysia } from "elysia"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import { AppError } from "../shared/errors.ts"

/** Where the reference page loads its script and stylesheet from: this gateway, never a CDN. */
export const DOCS_ASSETS_PATH = "/docs/assets"

// The UI's files, from the swagger-ui-dist version package.json pins exactly. Resolved through
// node_modules at run time (as the Node bundle already loads @platformatic/kafka), so the page works
// offline and shows the same UI on every machine.
const ASSETS = {
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui.css": "text/css; charset=utf-8",
} as const

function readAssets(): Map<string, { body: Buffer; type: string }> {
  const dir = dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"))
  return new Map(Object.entries(ASSETS).map(([file, type]) => [file, { body: readFileSync(join(dir, file)), type }]))
}

/** The OpenAPI document at /openapi.json and its reference page at /docs, with the page's assets served here. */
export function apiDocs(info: { title: string; version: string }) {
  // Read once, when the routes are built.
  const assets = readAssets()
  return new Elysia({ name: "api-docs" })
    .use(
      openapi({
        path: "/docs",
        specPath: "/openapi.json",
        documentation: { info },
        provider: "swagger-ui",
        // "none": the UI would otherwise show a badge that sends the document to validator.swagger.io.
        swagger: { cdn: `${DOCS_ASSETS_PATH}/swagger-ui-bundle.js`, theme: `${DOCS_ASSETS_PATH}/swagger-ui.css`, validatorUrl: "none" },
      }),
    )
    .get(
      `${DOCS_ASSETS_PATH}/:file`,
      ({ params }) => {
        const asset = assets.get(params.file)
        if (!asset) throw new AppError(404, "Not Found")
        return new Response(asset.body, { headers: { "content-type": asset.type, "cache-control": "public, max-age=3600" } })
      },
      { detail: { hide: true } },
    )
}
