import type { Command } from "../shared/commands.ts"
import type { BatchPhases } from "./batch-step.ts"
import type { BatchResult } from "./decide-batch.ts"

/** The shape of the step a batch was merged into, for its phase spans. */
export type StepShape = { batches: number; commands: number }

/** Starts the phase marks of one attempt of the step a traced batch was merged into. */
export type StepPhases = (step: StepShape) => BatchPhases

type Job = { commands: Command[]; phases?: StepPhases; resolve: (result: BatchResult) => void; reject: (error: unknown) => void }

/**
 * Merges the batches of different partitions that arrive in the same event-loop turn into
 * one batch step: one PostgreSQL transaction and one Redis pipeline instead of one per
 * partition, which is most of a small batch's cost. Safe because a subsection belongs to
 * one partition, and one partition never has two batches in flight, so merged batches
 * never share a subsection; each partition still commits its own offsets afterwards.
 *
 * Merging stops at `mergeLimit` commands: the rest of the turn's batches form further steps
 * that run at the same time, so that one step's decisions (this process's CPU) overlap
 * another's transaction (PostgreSQL's), and two transactions use two PostgreSQL backends.
 *
 * Tracing only watches: every traced batch merged into a step marks that step's phases, so
 * a traced run merges exactly as an untraced one.
 */
export function createBatchCoalescer(apply: (commands: Command[], phases?: () => BatchPhases) => Promise<BatchResult>, mergeLimit = Infinity) {
  let waiting: Job[] = []
  let scheduled = false

  const runGroup = async (jobs: Job[]) => {
    try {
      const commands = jobs.flatMap((job) => job.commands)
      const merged = await apply(commands, phasesOfAll(jobs, { batches: jobs.length, commands: commands.length }))
      for (const job of jobs) job.resolve(shareOf(merged, job.commands))
    } catch (error) {
      for (const job of jobs) job.reject(error)
    }
  }

  const run = () => {
    scheduled = false
    const jobs = waiting
    waiting = []
    let group: Job[] = []
    let size = 0
    for (const job of jobs) {
      if (group.length > 0 && size + job.commands.length > mergeLimit) {
        void runGroup(group)
        group = []
        size = 0
      }
      group.push(job)
      size += job.commands.length
    }
    if (group.length > 0) void runGroup(group)
  }

  return (commands: Command[], phases?: StepPhases): Promise<BatchResult> =>
    new Promise((resolve, reject) => {
      waiting.push({ commands, phases, resolve, reject })
      if (!scheduled) {
        scheduled = true
        setImmediate(run)
      }
    })
}

// Marks each phase of a merged step for every traced batch in it.
function phasesOfAll(jobs: Job[], step: StepShape): (() => BatchPhases) | undefined {
  const traced = jobs.flatMap((job) => (job.phases ? [job.phases] : []))
  if (traced.length === 0) return undefined
  return () => {
    const marks = traced.map((phases) => phases(step))
    return {
      next: (phase) => marks.forEach((m) => m.next(phase)),
      end: (error) => marks.forEach((m) => m.end(error)),
    }
  }
}

// One partition's part of a merged result; its counts are recounted from its own outcomes.
function shareOf(merged: BatchResult, commands: Command[]): BatchResult {
  const ids = new Set(commands.map((c) => c.booking_id))
  const own = new Set(commands)
  const outcomes = merged.outcomes.filter((o) => ids.has(o.booking_id))
  const fresh = outcomes.filter((o) => !o.replayed)
  return {
    outcomes,
    rejected: merged.rejected.filter((r) => own.has(r.command)),
    reserved: fresh.filter((o) => o.status === "pending_payment").length,
    failed: fresh.filter((o) => o.status === "failed").length,
    released: fresh.filter((o) => o.status === "cancelled").length,
    expired: fresh.filter((o) => o.status === "expired").length,
  }
}
