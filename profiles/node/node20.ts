// What the machine's Node 20 lacks for the gateway; the Bun and Deno differences are in gateway/runtime.ts.

/**
 * Promise.withResolvers (Node 22), which @platformatic/kafka, the gateway's producer, calls on every
 * send; the machine's Node is 20. Installed before the gateway starts; a no-op where it exists.
 */
export function polyfillPromiseWithResolvers(): void {
  if (typeof Promise.withResolvers === "function") return
  Promise.withResolvers = <T>() => {
    let resolve!: (value: T | PromiseLike<T>) => void
    let reject!: (reason?: unknown) => void
    const promise = new Promise<T>((res, rej) => {
      resolve = res
      reject = rej
    })
    return { promise, resolve, reject }
  }
}
