package dev.flotilla.worker.service;

import dev.flotilla.api.v1.EmbedInput;
import dev.flotilla.api.worker.v1.WorkerEmbedRequest;
import dev.flotilla.worker.runtime.WorkerRuntime;
import dev.flotilla.worker.scheduler.Pooling;
import dev.flotilla.worker.scheduler.SequenceRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks an Embed request and turns each input into an embedding {@link SequenceRequest}, before
 * the engine sees anything.
 */
final class EmbedValidator {
  static final int MAX_INPUTS = 2048;

  private EmbedValidator() {}

  /**
   * @throws StatusRuntimeException FAILED_PRECONDITION for a model that does not embed,
   *     INVALID_ARGUMENT naming the field, NOT_FOUND for an unknown adapter
   */
  static List<SequenceRequest> validate(WorkerEmbedRequest request, WorkerRuntime runtime) {
    String model = runtime.settings().modelName();
    Pooling pooling =
        runtime
            .pooling()
            .orElseThrow(
                () ->
                    Errors.of(
                        Status.FAILED_PRECONDITION,
                        "model "
                            + model
                            + " is not an embedding model: its checkpoint has no"
                            + " sentence-transformers modules.json with a pooling module"));
    if (!"cpu".equals(runtime.device())) {
      throw Errors.of(
          Status.FAILED_PRECONDITION,
          "embeddings are served on the cpu device only; model "
              + model
              + " runs on "
              + runtime.device());
    }
    int hidden = runtime.modelInfo().hiddenSize();
    if (request.getDimensions() != 0 && request.getDimensions() != hidden) {
      throw Errors.invalid(
          "dimensions",
          "dimensions must be the model's "
              + hidden
              + " (vectors are not truncated), got "
              + request.getDimensions());
    }
    if (request.getInputsCount() == 0) {
      throw Errors.invalid("input", "input is empty: give at least one string or token list");
    }
    if (request.getInputsCount() > MAX_INPUTS) {
      throw Errors.invalid(
          "input", "at most " + MAX_INPUTS + " inputs, got " + request.getInputsCount());
    }
    RequestValidator.checkFairness(request.getPriority(), request.getVirtualTokenCounter());
    RequestValidator.checkAdapter(request.getAdapter(), runtime);
    int context = runtime.scheduler().contextLength();
    List<SequenceRequest> out = new ArrayList<>(request.getInputsCount());
    for (int i = 0; i < request.getInputsCount(); i++) {
      int[] prompt = tokens(request.getInputs(i), i, runtime);
      if (prompt.length > context) {
        throw Errors.invalid(
            "input",
            "input " + i + " has " + prompt.length + " tokens; the context holds " + context);
      }
      out.add(
          SequenceRequest.embedding(
              request.getRequestId() + "/" + i,
              request.getAdapter(),
              prompt,
              pooling,
              request.getPriority(),
              request.getVirtualTokenCounter()));
    }
    return out;
  }

  private static int[] tokens(EmbedInput input, int index, WorkerRuntime runtime) {
    int[] tokens =
        switch (input.getInputCase()) {
          case TEXT -> runtime.tokenizer().encode(input.getText());
          case TOKEN_IDS -> {
            int[] ids = input.getTokenIds().getIdsList().stream().mapToInt(i -> i).toArray();
            int vocab = runtime.modelInfo().vocabSize();
            for (int j = 0; j < ids.length; j++) {
              if (ids[j] < 0 || ids[j] >= vocab) {
                throw Errors.invalid(
                    "input",
                    "input "
                        + index
                        + ": token id "
                        + ids[j]
                        + " at index "
                        + j
                        + " is outside 0.."
                        + (vocab - 1));
              }
            }
            yield ids;
          }
          case INPUT_NOT_SET -> new int[0];
        };
    if (tokens.length == 0) {
      throw Errors.invalid("input", "input " + index + " is empty");
    }
    return tokens;
  }
}
