package dev.flotilla.worker.service;

import dev.flotilla.api.v1.ToolChoice;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.worker.runtime.WorkerRuntime;
import dev.flotilla.worker.scheduler.TokenConstraint;
import dev.flotilla.worker.structured.GrammarConstraint;
import dev.flotilla.worker.structured.SchemaException;
import io.grpc.StatusRuntimeException;

/** A request's structured output: the grammar its tokens must follow, or none. */
final class OutputConstraints {
  private OutputConstraints() {}

  /**
   * A fresh constraint for the request's sequence; null when its output is free text.
   *
   * @throws StatusRuntimeException INVALID_ARGUMENT naming the field the grammar refuses
   */
  static TokenConstraint of(WorkerGenerateRequest request, WorkerRuntime runtime) {
    ToolChoice choice = request.getToolChoice();
    boolean forced =
        choice.getMode() == ToolChoice.Mode.REQUIRED
            || choice.getMode() == ToolChoice.Mode.FUNCTION;
    if (forced && request.getInputCase() != WorkerGenerateRequest.InputCase.CHAT) {
      throw Errors.invalid("tool_choice", "a required or named tool choice needs a chat input");
    }
    try {
      return runtime
          .outputGrammars()
          .forRequest(request.getResponseFormat(), choice, request.getChat().getToolsJson())
          .map(GrammarConstraint::new)
          .orElse(null);
    } catch (SchemaException e) {
      throw Errors.invalid(e.field(), e.getMessage());
    }
  }
}
