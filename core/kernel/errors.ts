/**
 * One error taxonomy for the hub. A client error is the sender's fault: the input is refused (and,
 * when it is a record, dead-lettered) and retrying the same input cannot help. A retryable error is
 * ours or the network's: the sender should try again later, and jobs retry with backoff.
 */
export interface ErrorContext {
  adapter?: string;
  messageId?: string;
  field?: string;
  /** Already masked when it is personal data. */
  value?: unknown;
  rule?: string;
  [key: string]: unknown;
}

export class HubError extends Error {
  readonly code: string;
  readonly type: string;
  readonly data: ErrorContext;
  readonly retryable: boolean;
  constructor(message: string, code: string, type: string, data: ErrorContext = {}, retryable = false) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.type = type;
    this.data = data;
    this.retryable = retryable;
  }
}

/** The sender's fault: refuse, explain, never retry as is. */
export class ClientError extends HubError {
  /** HTTP status the gateway answers with. */
  readonly status: number;
  constructor(message: string, type: string, data: ErrorContext = {}, status = 400) {
    super(message, 'CLIENT_ERROR', type, data, false);
    this.status = status;
  }
}

/** Ours or the network's: the sender (or a job) should try again later. */
export class RetryableError extends HubError {
  constructor(message: string, type: string, data: ErrorContext = {}) {
    super(message, 'RETRYABLE_ERROR', type, data, true);
  }
}

/** A configuration or definition that cannot be used; found at start-up or on reload. */
export class ConfigError extends HubError {
  constructor(message: string, data: ErrorContext = {}) {
    super(message, 'CONFIG_ERROR', 'INVALID_CONFIG', data, false);
  }
}
