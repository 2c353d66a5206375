package dev.flotilla.sdk;

/** Why a generation ended. */
public enum FinishReason {
  /** The model produced its end-of-sequence token. */
  STOP,
  /** The request's {@code maxTokens} was reached. */
  LENGTH,
  /** One of the request's stop sequences matched. */
  STOP_SEQUENCE,
  /** The model's context window is full. */
  CONTEXT_LENGTH,
  /** The generation was cancelled. */
  CANCELLED,
  /** The output is tool calls (a chat request that offered tools). */
  TOOL_CALLS,
  /** The server did not say, or said something this SDK version does not know. */
  UNSPECIFIED
}
