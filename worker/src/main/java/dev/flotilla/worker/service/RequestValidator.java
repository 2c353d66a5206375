package dev.flotilla.worker.service;

import dev.flotilla.api.v1.SamplingParams;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.worker.chat.ChatPrompts;
import dev.flotilla.worker.chat.ChatTemplateException;
import dev.flotilla.worker.engine.LogitBias;
import dev.flotilla.worker.runtime.WorkerRuntime;
import dev.flotilla.worker.scheduler.SequenceRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Checks a Generate request and turns it into a {@link SequenceRequest}, before the engine sees
 * anything.
 */
final class RequestValidator {
  static final int MAX_STOP_SEQUENCES = 16;
  static final int MAX_STOP_LENGTH = 256;
  static final int MIN_PRIORITY = 0;
  static final int MAX_PRIORITY = 2;
  static final int MAX_CHOICES = 16;
  static final int MAX_LOGIT_BIAS = 1024;
  static final int MAX_STOP_TOKEN_IDS = 64;

  private RequestValidator() {}

  /**
   * A checked request: what the scheduler runs, its number of choices and the stop strings the
   * stream watches for.
   */
  record Validated(SequenceRequest sequence, int n, List<String> stops, boolean logprobs) {}

  private static final int MAX_TOP_LOGPROBS =
      dev.flotilla.worker.engine.SamplingParams.MAX_TOP_LOGPROBS;

  /**
   * @throws StatusRuntimeException INVALID_ARGUMENT, NOT_FOUND or FAILED_PRECONDITION with a
   *     message
   */
  static Validated validate(WorkerGenerateRequest request, WorkerRuntime runtime) {
    SamplingParams s = request.getSampling();
    // NaN fails every comparison and infinity passes ">= 0": both are refused by name here, since
    // the engine would refuse them only inside a step.
    if (!Float.isFinite(s.getTemperature()) || s.getTemperature() < 0) {
      throw Errors.invalid(
          "sampling.temperature",
          "temperature must be a finite number >= 0 (0 = greedy), got " + s.getTemperature());
    }
    if (s.getTopK() < 0) {
      throw Errors.invalid(
          "sampling.top_k", "top_k must be >= 0 (0 = all tokens), got " + s.getTopK());
    }
    float topP = s.getTopP() == 0 ? 1f : s.getTopP();
    if (!(topP > 0 && topP <= 1)) {
      throw Errors.invalid(
          "sampling.top_p", "top_p must be in (0, 1] (0 = unset = 1), got " + s.getTopP());
    }
    if (s.getMaxTokens() < 0) {
      throw Errors.invalid(
          "sampling.max_tokens",
          "max_tokens must be >= 0 (0 = up to the context length), got " + s.getMaxTokens());
    }
    int n = s.getN() == 0 ? 1 : s.getN();
    int maxChoices = Math.min(MAX_CHOICES, runtime.scheduler().maxChoices());
    if (n < 1 || n > maxChoices) {
      throw Errors.invalid(
          "sampling.n", "n must be in 1.." + maxChoices + " (0 = unset = 1), got " + s.getN());
    }
    if (s.getStopCount() > MAX_STOP_SEQUENCES) {
      throw Errors.invalid(
          "sampling.stop",
          "at most " + MAX_STOP_SEQUENCES + " stop sequences, got " + s.getStopCount());
    }
    for (String stop : s.getStopList()) {
      if (stop.isEmpty()) {
        throw Errors.invalid("sampling.stop", "stop sequences must not be empty");
      }
      if (stop.length() > MAX_STOP_LENGTH) {
        throw Errors.invalid(
            "sampling.stop",
            "stop sequences are at most "
                + MAX_STOP_LENGTH
                + " characters, got one of "
                + stop.length());
      }
    }

    checkPenalties(s);
    if (s.getTopLogprobs() < 0 || s.getTopLogprobs() > MAX_TOP_LOGPROBS) {
      throw Errors.invalid(
          "sampling.top_logprobs",
          "top_logprobs must be in 0.." + MAX_TOP_LOGPROBS + ", got " + s.getTopLogprobs());
    }
    if (s.getTopLogprobs() > 0 && !request.getLogprobs()) {
      throw Errors.invalid("sampling.top_logprobs", "top_logprobs needs logprobs: true");
    }

    checkFairness(request.getPriority(), request.getVirtualTokenCounter());
    String adapter = request.getAdapter();
    checkAdapter(adapter, runtime);

    int vocab = runtime.modelInfo().vocabSize();
    int[] prompt = prompt(request, runtime);
    int context = runtime.scheduler().contextLength();
    if (prompt.length >= context) {
      throw Errors.invalid(
          "prompt",
          "the prompt has "
              + prompt.length
              + " tokens; the context holds "
              + context
              + " including at least one generated token");
    }
    int maxTokens = s.getMaxTokens();
    boolean limitedByContext = maxTokens == 0;
    if (limitedByContext) {
      maxTokens = context - prompt.length;
    } else if ((long) prompt.length + maxTokens > context) {
      throw Errors.invalid(
          "sampling.max_tokens",
          "prompt ("
              + prompt.length
              + " tokens) plus max_tokens ("
              + maxTokens
              + ") exceeds the context length "
              + context);
    }
    if (s.getMinTokens() < 0 || s.getMinTokens() > maxTokens) {
      throw Errors.invalid(
          "sampling.min_tokens",
          "min_tokens must be in 0..max_tokens (" + maxTokens + "), got " + s.getMinTokens());
    }
    long seed = s.hasSeed() ? s.getSeed() : ThreadLocalRandom.current().nextLong();
    dev.flotilla.worker.engine.SamplingParams sampling =
        new dev.flotilla.worker.engine.SamplingParams(
            s.getTemperature(),
            s.getTopK(),
            topP,
            seed,
            s.getPresencePenalty(),
            s.getFrequencyPenalty(),
            s.getRepetitionPenalty() == 0 ? 1f : s.getRepetitionPenalty(),
            logitBias(s, vocab),
            s.getMinTokens(),
            request.getLogprobs() ? s.getTopLogprobs() : 0);
    return new Validated(
        new SequenceRequest(
            request.getRequestId(),
            adapter,
            prompt,
            sampling,
            maxTokens,
            limitedByContext,
            request.getPriority(),
            request.getVirtualTokenCounter(),
            stopTokenIds(s, vocab)),
        n,
        s.getStopList(),
        request.getLogprobs());
  }

  /** Priority and virtual token counter, the gateway's fairness inputs. */
  static void checkFairness(int priority, double vtc) {
    if (priority < MIN_PRIORITY || priority > MAX_PRIORITY) {
      throw Errors.invalid(
          "priority",
          "priority must be in "
              + MIN_PRIORITY
              + ".."
              + MAX_PRIORITY
              + " (low, normal, high), got "
              + priority);
    }
    if (!Double.isFinite(vtc) || vtc < 0) {
      throw Errors.invalid(
          "virtual_token_counter",
          "virtual_token_counter must be a finite number >= 0, got " + vtc);
    }
  }

  /** The adapter, if one is named, is known and the worker has slots for adapters. */
  static void checkAdapter(String adapter, WorkerRuntime runtime) {
    if (!adapter.isEmpty()) {
      if (!runtime.catalog().contains(adapter)) {
        throw Errors.adapterNotFound(
            adapter, "adapter '" + adapter + "' is not known to this worker");
      }
      if (runtime.scheduler().adapterSlots() == 0) {
        throw Errors.of(
            Status.FAILED_PRECONDITION,
            "this worker has no adapter slots (FLOTILLA_MAX_ADAPTERS=0)");
      }
    }
  }

  private static void checkPenalties(SamplingParams s) {
    if (!(s.getPresencePenalty() >= -2 && s.getPresencePenalty() <= 2)) {
      throw Errors.invalid(
          "sampling.presence_penalty",
          "presence_penalty must be in [-2, 2], got " + s.getPresencePenalty());
    }
    if (!(s.getFrequencyPenalty() >= -2 && s.getFrequencyPenalty() <= 2)) {
      throw Errors.invalid(
          "sampling.frequency_penalty",
          "frequency_penalty must be in [-2, 2], got " + s.getFrequencyPenalty());
    }
    if (!(Float.isFinite(s.getRepetitionPenalty()) && s.getRepetitionPenalty() >= 0)) {
      throw Errors.invalid(
          "sampling.repetition_penalty",
          "repetition_penalty must be a finite number > 0 (0 = unset = 1), got "
              + s.getRepetitionPenalty());
    }
  }

  private static LogitBias logitBias(SamplingParams s, int vocab) {
    if (s.getLogitBiasCount() > MAX_LOGIT_BIAS) {
      throw Errors.invalid(
          "sampling.logit_bias",
          "at most " + MAX_LOGIT_BIAS + " entries, got " + s.getLogitBiasCount());
    }
    for (var e : s.getLogitBiasMap().entrySet()) {
      if (e.getKey() < 0 || e.getKey() >= vocab) {
        throw Errors.invalid(
            "sampling.logit_bias",
            "token id " + e.getKey() + " is outside the vocabulary 0.." + (vocab - 1));
      }
      float v = e.getValue();
      if (!(v >= -100 && v <= 100)) {
        throw Errors.invalid(
            "sampling.logit_bias",
            "values must be in [-100, 100], got " + v + " for token " + e.getKey());
      }
    }
    return LogitBias.of(s.getLogitBiasMap());
  }

  private static int[] stopTokenIds(SamplingParams s, int vocab) {
    if (s.getStopTokenIdsCount() > MAX_STOP_TOKEN_IDS) {
      throw Errors.invalid(
          "sampling.stop_token_ids",
          "at most " + MAX_STOP_TOKEN_IDS + " stop token ids, got " + s.getStopTokenIdsCount());
    }
    for (int id : s.getStopTokenIdsList()) {
      if (id < 0 || id >= vocab) {
        throw Errors.invalid(
            "sampling.stop_token_ids",
            "token id " + id + " is outside the vocabulary 0.." + (vocab - 1));
      }
    }
    return s.getStopTokenIdsList().stream().mapToInt(Integer::intValue).toArray();
  }

  private static int[] prompt(WorkerGenerateRequest request, WorkerRuntime runtime) {
    int[] prompt;
    switch (request.getInputCase()) {
      case PROMPT -> {
        if (request.getPrompt().isEmpty()) {
          throw Errors.invalid("prompt", "the prompt is empty");
        }
        prompt = runtime.tokenizer().encode(request.getPrompt());
      }
      case PROMPT_TOKEN_IDS -> {
        prompt =
            request.getPromptTokenIds().getIdsList().stream().mapToInt(Integer::intValue).toArray();
        int vocab = runtime.modelInfo().vocabSize();
        for (int i = 0; i < prompt.length; i++) {
          if (prompt[i] < 0 || prompt[i] >= vocab) {
            throw Errors.invalid(
                "prompt_token_ids",
                "token id " + prompt[i] + " at index " + i + " is outside 0.." + (vocab - 1));
          }
        }
      }
      case CHAT -> prompt = chatPrompt(request, runtime);
      default ->
          throw Errors.invalid(
              "prompt", "the prompt is empty: set prompt, prompt_token_ids or chat");
    }
    if (prompt.length == 0) {
      throw Errors.invalid("prompt", "the prompt is empty");
    }
    return prompt;
  }

  /** The conversation through the model's chat template, tokenized as the template wrote it. */
  private static int[] chatPrompt(WorkerGenerateRequest request, WorkerRuntime runtime) {
    ChatPrompts chat =
        runtime
            .chatPrompts()
            .orElseThrow(
                () ->
                    Errors.invalid(
                        "messages",
                        "model "
                            + runtime.settings().modelName()
                            + " has no chat template (no chat_template in its"
                            + " tokenizer_config.json and no chat_template.jinja); send a prompt to"
                            + " the completions API instead"));
    try {
      return runtime.tokenizer().encode(chat.render(request.getChat()), false);
    } catch (ChatTemplateException e) {
      throw Errors.invalid("messages", e.getMessage());
    }
  }
}
