import type Redis from "ioredis"
import type { Logger } from "../../shared/log.ts"

/** Parses a JSON message; an unreadable one is logged and gives undefined, so one bad publish breaks no stream. */
export function parseMessage<T>(raw: string, log: Logger, channel: string): T | undefined {
  try {
    return JSON.parse(raw) as T
  } catch (error) {
    log.warn("unreadable live-update message", { channel, error })
    return undefined
  }
}

/** Receives each message published on a channel it subscribed to. */
export type Listener = (message: string) => void

type Channel = { listeners: Set<Listener>; subscribed: Promise<unknown> }

/** The Redis client name of a process's live-update subscriber, so that CLIENT LIST tells which process holds it. */
export const liveConnectionName = (owner: string): string => `gateway-live-${owner}`

/**
 * The gateway's one Redis subscriber: local listeners share one SUBSCRIBE per channel (sent when the
 * first appears, UNSUBSCRIBE when the last goes) and messages fan out in memory. After a dropped
 * connection it subscribes its channels again and then signals `resynced`, so streams re-send what
 * they may have missed.
 *
 * `subscriber` is a connection of its own, made with `autoResubscribe: false`: ioredis's automatic
 * re-subscribe restores only the channels Redis had confirmed, including ones whose UNSUBSCRIBE was
 * lost while disconnected, so the hub re-subscribes its own set instead.
 */
export function createRedisFanout(subscriber: Redis, log: Logger) {
  if (subscriber.options.autoResubscribe) throw new Error("the Redis fan-out subscriber must be created with autoResubscribe: false")
  const channels = new Map<string, Channel>()
  const resyncListeners = new Set<() => void>()
  const closeListeners = new Set<() => void>()
  let listenerCount = 0
  let connections = 0
  let closed = false

  const deliver = (channel: string, message: string) => {
    const entry = channels.get(channel)
    if (!entry) return
    for (const listener of entry.listeners) {
      try {
        listener(message)
      } catch (error) {
        log.error("live-update listener failed", { channel, error })
      }
    }
  }

  const signal = (listeners: Set<() => void>, what: string) => {
    for (const listener of [...listeners]) {
      try {
        listener()
      } catch (error) {
        log.error(`live-update ${what} listener failed`, { error })
      }
    }
  }

  // The first `ready` is the initial connection; every later one follows a drop, after which the
  // new connection holds no subscriptions and messages published meanwhile are gone.
  const onReady = async () => {
    if (connections++ === 0 || closed) return
    const names = [...channels.keys()]
    try {
      if (names.length > 0) await subscriber.subscribe(...names)
      log.info("live updates resubscribed after reconnect", { channels: names.length })
      signal(resyncListeners, "resync")
    } catch (error) {
      // The connection dropped again; its next `ready` retries.
      log.warn("live updates resubscribe failed", { error })
    }
  }

  subscriber.on("message", deliver)
  subscriber.on("ready", onReady)
  if (subscriber.status === "ready") connections = 1

  return {
    /**
     * Calls `listener` with every message on `channel` until the returned function is called; resolves
     * once Redis has confirmed the subscription, so nothing published after that can be missed.
     */
    async subscribe(channel: string, listener: Listener): Promise<() => void> {
      if (closed) throw new Error("live updates are closed")
      let entry = channels.get(channel)
      if (!entry) {
        entry = { listeners: new Set(), subscribed: subscriber.subscribe(channel) }
        channels.set(channel, entry)
      }
      // A Set would merge two subscriptions of one function; a wrapper keeps each its own.
      const own: Listener = (message) => listener(message)
      entry.listeners.add(own)
      listenerCount++
      let active = true
      const unsubscribe = () => {
        if (!active) return
        active = false
        listenerCount--
        entry.listeners.delete(own)
        if (entry.listeners.size > 0 || channels.get(channel) !== entry) return
        channels.delete(channel)
        if (!closed) subscriber.unsubscribe(channel).catch((error) => log.warn("live updates unsubscribe failed", { channel, error }))
      }
      try {
        await entry.subscribed
      } catch (error) {
        unsubscribe()
        throw error
      }
      return unsubscribe
    },
    /** Calls `listener` after each reconnect, once every channel is subscribed again; returns its remover. */
    onResync(listener: () => void): () => void {
      resyncListeners.add(listener)
      return () => resyncListeners.delete(listener)
    },
    /** Calls `listener` when the hub closes (shutdown), so open streams can end; returns its remover. */
    onClose(listener: () => void): () => void {
      closeListeners.add(listener)
      return () => closeListeners.delete(listener)
    },
    /** Redis channels subscribed and local listeners on them, for tests and metrics. */
    stats(): { channels: number; listeners: number } {
      return { channels: channels.size, listeners: listenerCount }
    },
    /** Ends every stream fed by the hub, then closes the subscriber connection. */
    async close(): Promise<void> {
      if (closed) return
      closed = true
      signal(closeListeners, "close")
      subscriber.off("message", deliver)
      subscriber.off("ready", onReady)
      await subscriber.quit().catch(() => subscriber.disconnect())
    },
  }
}

/** The gateway's Redis fan-out: one subscriber, listeners per channel in memory. */
export type RedisFanout = ReturnType<typeof createRedisFanout>
