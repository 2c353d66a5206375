package dev.flotilla.sdk;

import dev.flotilla.api.v1.AdapterInfo;
import dev.flotilla.api.v1.ChatInput;
import dev.flotilla.api.v1.CompleteResponse;
import dev.flotilla.api.v1.EmbedInput;
import dev.flotilla.api.v1.EmbedRequest;
import dev.flotilla.api.v1.EmbedResponse;
import dev.flotilla.api.v1.Embedding;
import dev.flotilla.api.v1.Final;
import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.GenerateResponse;
import dev.flotilla.api.v1.HeldProgress;
import dev.flotilla.api.v1.ListModelsResponse;
import dev.flotilla.api.v1.ModelInfo;
import dev.flotilla.api.v1.ResponseFormat;
import dev.flotilla.api.v1.SamplingParams;
import dev.flotilla.api.v1.TokenChunk;
import dev.flotilla.api.v1.TokenIds;
import dev.flotilla.api.v1.ToolChoice;
import dev.flotilla.api.v1.TopLogprobs;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Converts between the SDK's types and the {@code flotilla.v1} protos, in both directions. */
final class ProtoMapping {
  private ProtoMapping() {}

  static GenerateRequest generateRequest(CompletionRequest request) {
    SamplingParams.Builder sampling =
        SamplingParams.newBuilder()
            .setTemperature(request.temperature())
            .setTopK(request.topK())
            .setTopP(request.topP())
            .setMaxTokens(request.maxTokens())
            .addAllStop(request.stop());
    if (request.n() > 1) {
      sampling.setN(request.n());
    }
    request.seed().ifPresent(sampling::setSeed);
    sampling
        .setPresencePenalty(request.presencePenalty())
        .setFrequencyPenalty(request.frequencyPenalty())
        .setRepetitionPenalty(request.repetitionPenalty())
        .putAllLogitBias(request.logitBias())
        .setMinTokens(request.minTokens())
        .addAllStopTokenIds(request.stopTokenIds())
        .setTopLogprobs(request.topLogprobs());

    GenerateRequest.Builder proto =
        GenerateRequest.newBuilder()
            .setModel(request.model())
            .setAdapter(request.adapter())
            .setSampling(sampling)
            .setRequestId(request.requestId())
            .setReportProgress(request.reportProgress())
            .setLogprobs(request.logprobs());
    request
        .jsonFormat()
        .ifPresent(
            f ->
                proto.setResponseFormat(
                    f.schemaJson() == null
                        ? ResponseFormat.newBuilder().setType(ResponseFormat.Type.JSON_OBJECT)
                        : ResponseFormat.newBuilder()
                            .setType(ResponseFormat.Type.JSON_SCHEMA)
                            .setName(f.name())
                            .setSchemaJson(f.schemaJson())));
    if (!request.messages().isEmpty()) {
      proto.setChat(chat(request));
      ToolChoice.Builder choice =
          ToolChoice.newBuilder()
              .setMode(
                  switch (request.toolChoice().mode()) {
                    case AUTO -> ToolChoice.Mode.AUTO;
                    case NONE -> ToolChoice.Mode.NONE;
                    case REQUIRED -> ToolChoice.Mode.REQUIRED;
                    case FUNCTION -> ToolChoice.Mode.FUNCTION;
                  })
              .setFunctionName(request.toolChoice().functionName());
      request.parallelToolCalls().ifPresent(choice::setParallelToolCalls);
      proto.setToolChoice(choice);
    } else {
      request
          .prompt()
          .ifPresentOrElse(
              proto::setPrompt,
              () ->
                  proto.setPromptTokenIds(
                      TokenIds.newBuilder().addAllIds(request.promptTokenIds())));
    }
    return proto.build();
  }

  private static ChatInput chat(CompletionRequest request) {
    StringBuilder messages = new StringBuilder("[");
    for (int i = 0; i < request.messages().size(); i++) {
      messages.append(i == 0 ? "" : ",").append(request.messages().get(i).toJson());
    }
    ChatInput.Builder chat =
        ChatInput.newBuilder()
            .setMessagesJson(messages.append(']').toString())
            .setAddGenerationPrompt(true);
    if (!request.tools().isEmpty()) {
      StringBuilder tools = new StringBuilder("[");
      for (int i = 0; i < request.tools().size(); i++) {
        tools.append(i == 0 ? "" : ",").append(request.tools().get(i).toJson());
      }
      chat.setToolsJson(tools.append(']').toString());
    }
    return chat.build();
  }

  static EmbedRequest embedRequest(EmbeddingRequest request) {
    EmbedRequest.Builder b =
        EmbedRequest.newBuilder()
            .setModel(request.model())
            .setAdapter(request.adapter())
            .setDimensions(request.dimensions())
            .setRequestId(request.requestId());
    for (EmbeddingInput input : request.inputs()) {
      EmbedInput.Builder i = EmbedInput.newBuilder();
      if (input instanceof EmbeddingInput.Text t) {
        i.setText(t.text());
      } else if (input instanceof EmbeddingInput.TokenIds t) {
        i.setTokenIds(TokenIds.newBuilder().addAllIds(t.ids()));
      }
      b.addInputs(i);
    }
    return b.build();
  }

  static EmbeddingResult embeddingResult(EmbedResponse response) {
    List<float[]> vectors = new ArrayList<>(response.getEmbeddingsCount());
    for (Embedding e : response.getEmbeddingsList()) {
      float[] v = new float[e.getValuesCount()];
      for (int i = 0; i < v.length; i++) {
        v[i] = e.getValues(i);
      }
      vectors.add(v);
    }
    var usage = response.getUsage();
    var timings = response.getTimings();
    return new EmbeddingResult(
        response.getRequestId(),
        vectors,
        new Usage(usage.getPromptTokens(), usage.getCompletionTokens(), usage.getTotalTokens()),
        new Timings(
            Duration.ofMillis(timings.getQueueMs()),
            Duration.ofMillis(timings.getTimeToFirstTokenMs()),
            Duration.ofMillis(timings.getTotalMs())));
  }

  static CompletionResult completionResult(CompleteResponse response) {
    Final summary = response.getFinal();
    List<Choice> choices =
        response.getChoicesCount() == 0
            ? List.of(
                new Choice(
                    0,
                    response.getText(),
                    response.getTokenIdsList(),
                    response.getLogprobsList(),
                    topLogprobs(response.getTopLogprobsList()),
                    finishReason(summary.getFinishReason())))
            : response.getChoicesList().stream()
                .map(
                    c ->
                        new Choice(
                            c.getIndex(),
                            c.getText(),
                            c.getTokenIdsList(),
                            c.getLogprobsList(),
                            topLogprobs(c.getTopLogprobsList()),
                            finishReason(c.getFinishReason())))
                .toList();
    return new CompletionResult(
        response.getText(),
        response.getTokenIdsList(),
        response.getLogprobsList(),
        topLogprobs(response.getTopLogprobsList()),
        summary.getRequestId(),
        finishReason(summary.getFinishReason()),
        usage(summary),
        timings(summary),
        choices,
        toolCalls(summary));
  }

  /** Returns null for a message whose event this SDK version does not know, so callers skip it. */
  static StreamEvent streamEvent(GenerateResponse response) {
    return switch (response.getEventCase()) {
      case TOKENS -> tokens(response.getTokens());
      case PROGRESS -> progress(response.getProgress());
      case FINAL -> finished(response.getFinal());
      case EVENT_NOT_SET -> null;
    };
  }

  static List<ModelDescription> models(ListModelsResponse response) {
    return response.getModelsList().stream().map(ProtoMapping::model).toList();
  }

  private static StreamEvent.Tokens tokens(TokenChunk chunk) {
    return new StreamEvent.Tokens(
        chunk.getText(),
        chunk.getTokenIdsList(),
        chunk.getLogprobsList(),
        topLogprobs(chunk.getTopLogprobsList()),
        chunk.getIndex(),
        chunk.getToolCallsList().stream()
            .map(d -> new ToolCallDelta(d.getIndex(), d.getId(), d.getName(), d.getArgumentsJson()))
            .toList());
  }

  private static List<ToolCall> toolCalls(Final summary) {
    return summary.getToolCallsList().stream()
        .map(c -> new ToolCall(c.getId(), c.getName(), c.getArgumentsJson()))
        .toList();
  }

  private static List<List<TopLogprob>> topLogprobs(List<TopLogprobs> perToken) {
    return perToken.stream()
        .map(
            top -> {
              List<TopLogprob> out = new ArrayList<>(top.getTokenIdsCount());
              for (int i = 0; i < top.getTokenIdsCount(); i++) {
                out.add(
                    new TopLogprob(
                        top.getTokenIds(i),
                        i < top.getTokensCount() ? top.getTokens(i) : "",
                        i < top.getLogprobsCount() ? top.getLogprobs(i) : Float.NaN));
              }
              return out;
            })
        .toList();
  }

  private static StreamEvent.Progress progress(HeldProgress progress) {
    StreamEvent.Progress.Phase phase =
        switch (progress.getPhase()) {
          case QUEUED -> StreamEvent.Progress.Phase.QUEUED;
          case WAITING_FOR_WORKER -> StreamEvent.Progress.Phase.WAITING_FOR_WORKER;
          case WORKER_STARTING -> StreamEvent.Progress.Phase.WORKER_STARTING;
          case PHASE_UNSPECIFIED, UNRECOGNIZED -> StreamEvent.Progress.Phase.UNSPECIFIED;
        };
    return new StreamEvent.Progress(
        phase, Duration.ofMillis(progress.getWaitedMs()), progress.getPosition());
  }

  private static StreamEvent.Finished finished(Final summary) {
    return new StreamEvent.Finished(
        summary.getRequestId(),
        finishReason(summary.getFinishReason()),
        usage(summary),
        timings(summary),
        summary.getChoicesList().stream()
            .map(
                c ->
                    new StreamEvent.ChoiceEnd(
                        c.getIndex(), finishReason(c.getFinishReason()), c.getCompletionTokens()))
            .toList(),
        toolCalls(summary));
  }

  private static FinishReason finishReason(dev.flotilla.api.v1.FinishReason reason) {
    return switch (reason) {
      case STOP -> FinishReason.STOP;
      case LENGTH -> FinishReason.LENGTH;
      case STOP_SEQUENCE -> FinishReason.STOP_SEQUENCE;
      case CONTEXT_LENGTH -> FinishReason.CONTEXT_LENGTH;
      case CANCELLED -> FinishReason.CANCELLED;
      case TOOL_CALLS -> FinishReason.TOOL_CALLS;
      case FINISH_REASON_UNSPECIFIED, UNRECOGNIZED -> FinishReason.UNSPECIFIED;
    };
  }

  private static Usage usage(Final summary) {
    var usage = summary.getUsage();
    return new Usage(usage.getPromptTokens(), usage.getCompletionTokens(), usage.getTotalTokens());
  }

  private static Timings timings(Final summary) {
    var timings = summary.getTimings();
    return new Timings(
        Duration.ofMillis(timings.getQueueMs()),
        Duration.ofMillis(timings.getTimeToFirstTokenMs()),
        Duration.ofMillis(timings.getTotalMs()));
  }

  private static ModelDescription model(ModelInfo model) {
    return new ModelDescription(
        model.getName(),
        model.getAdaptersList().stream().map(ProtoMapping::adapter).toList(),
        model.getMaxSequenceLength(),
        model.getReadyReplicas());
  }

  private static AdapterDescription adapter(AdapterInfo adapter) {
    AdapterDescription.Visibility visibility =
        switch (adapter.getVisibility()) {
          case PRIVATE -> AdapterDescription.Visibility.PRIVATE;
          case PUBLIC -> AdapterDescription.Visibility.PUBLIC;
          case VISIBILITY_UNSPECIFIED, UNRECOGNIZED -> AdapterDescription.Visibility.UNSPECIFIED;
        };
    return new AdapterDescription(adapter.getName(), visibility, adapter.getRank());
  }
}
