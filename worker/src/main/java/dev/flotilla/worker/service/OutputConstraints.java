package dev.flotilla.worker.service;

import dev.flotilla.api.v1.ResponseFormat;
import dev.flotilla.api.v1.ToolChoice;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.worker.runtime.WorkerRuntime;
import dev.flotilla.worker.scheduler.TokenConstraint;
import dev.flotilla.worker.structured.GrammarConstraint;
import dev.flotilla.worker.structured.SchemaException;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;

/** A request's structured output: the grammar its tokens must follow, or none. */
final class OutputConstraints {
  private OutputConstraints() {}

  /** Whether the request's output follows a grammar (a JSON format or a forced tool call). */
  static boolean constrained(WorkerGenerateRequest request) {
    return forced(request.getToolChoice())
        || request.getResponseFormat().getType() != ResponseFormat.Type.TEXT;
  }

  /**
   * A fresh constraint for the request's sequence, once its grammar is compiled (at once when the
   * grammar is cached or the output is free text, completing with null then). Compiling runs off
   * the caller's thread; the future fails with INVALID_ARGUMENT naming the field the grammar
   * refuses (a schema past the compile time limit too), RESOURCE_EXHAUSTED when too many wait.
   *
   * @throws StatusRuntimeException INVALID_ARGUMENT when the request is refused outright
   */
  static CompletableFuture<TokenConstraint> of(
      WorkerGenerateRequest request, WorkerRuntime runtime) {
    ToolChoice choice = request.getToolChoice();
    if (forced(choice) && request.getInputCase() != WorkerGenerateRequest.InputCase.CHAT) {
      throw Errors.invalid("tool_choice", "a required or named tool choice needs a chat input");
    }
    if (!constrained(request)) {
      return CompletableFuture.completedFuture(null);
    }
    try {
      return runtime
          .outputGrammars()
          .forRequest(request.getResponseFormat(), choice, request.getChat().getToolsJson())
          .handle(
              (masks, error) -> {
                if (error != null) {
                  throw new CompletionException(status(error));
                }
                return masks.<TokenConstraint>map(GrammarConstraint::new).orElse(null);
              });
    } catch (SchemaException e) {
      throw Errors.invalid(e.field(), e.getMessage());
    }
  }

  private static StatusRuntimeException status(Throwable error) {
    Throwable cause =
        error instanceof CompletionException && error.getCause() != null ? error.getCause() : error;
    if (cause instanceof SchemaException e) {
      return Errors.invalid(e.field(), e.getMessage());
    }
    if (cause instanceof RejectedExecutionException) {
      return Status.RESOURCE_EXHAUSTED.withDescription(cause.getMessage()).asRuntimeException();
    }
    return Status.INTERNAL
        .withDescription("compiling the output grammar failed: " + cause)
        .withCause(cause)
        .asRuntimeException();
  }

  private static boolean forced(ToolChoice choice) {
    return choice.getMode() == ToolChoice.Mode.REQUIRED
        || choice.getMode() == ToolChoice.Mode.FUNCTION;
  }
}
