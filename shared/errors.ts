/** A failure with an HTTP status and whether retrying can help; one handler per process turns it into an answer. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retriable = false,
    options?: ErrorOptions,
  ) {
    super(message, options)
    this.name = "AppError"
  }
}

/** A 400 from schema validation, listing every problem. */
export class ValidationError extends AppError {
  constructor(readonly errors: { field: string; message: string }[]) {
    super(400, errors[0]?.message ?? "Invalid request")
    this.name = "ValidationError"
  }
}
