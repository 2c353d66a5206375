package dev.flotilla.gateway.service;

import dev.flotilla.api.v1.EmbedInput;
import dev.flotilla.api.v1.EmbedRequest;
import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.SamplingParams;
import dev.flotilla.api.worker.v1.WorkerEmbedRequest;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.gateway.auth.TenantInfo;
import dev.flotilla.gateway.authz.Authorizer;
import dev.flotilla.gateway.tools.ToolCallSink;
import io.grpc.Deadline;
import java.nio.charset.StandardCharsets;
import java.util.UUID;

/**
 * What the gateway knows of a request once its caller is authenticated: who asks for what, with
 * which grant, since when. The stages after authentication read it; none changes it.
 *
 * @param requestId the client's id, else a new UUID
 * @param request the request as the client sent it; the default instance when it could not be built
 * @param grant what the tenant may use; null for a request refused before it was authorized
 * @param arrived ticker nanos at arrival
 * @param deadline the client's deadline; null for none
 * @param promptEstimate prompt tokens before a worker has counted them
 * @param maxTokens the request's {@code max_tokens}, else the gateway's default; 0 for an embedding
 *     request, which generates nothing
 * @param embed an embedding request as the client sent it; null for generation, whose {@code
 *     request} is then the client's (for an embedding request, {@code request} carries its model,
 *     adapter and id alone)
 */
record RequestFacts(
    String requestId,
    TenantInfo tenant,
    GenerateRequest request,
    Authorizer.Grant grant,
    long arrived,
    Deadline deadline,
    long promptEstimate,
    int maxTokens,
    EmbedRequest embed) {

  static RequestFacts of(
      TenantInfo tenant,
      GenerateRequest request,
      Authorizer.Grant grant,
      long arrived,
      Deadline deadline,
      int defaultMaxTokens) {
    String id =
        request.getRequestId().isEmpty() ? UUID.randomUUID().toString() : request.getRequestId();
    int maxTokens =
        request.getSampling().getMaxTokens() > 0
            ? request.getSampling().getMaxTokens()
            : defaultMaxTokens;
    return new RequestFacts(
        id,
        tenant,
        request,
        grant,
        arrived,
        deadline,
        estimatePromptTokens(request),
        maxTokens,
        null);
  }

  /** An embedding request's facts; {@code grant} null when it was refused before authorization. */
  static RequestFacts ofEmbed(
      TenantInfo tenant,
      EmbedRequest embed,
      Authorizer.Grant grant,
      long arrived,
      Deadline deadline) {
    String id =
        embed.getRequestId().isEmpty() ? UUID.randomUUID().toString() : embed.getRequestId();
    GenerateRequest head =
        GenerateRequest.newBuilder()
            .setModel(embed.getModel())
            .setAdapter(embed.getAdapter())
            .setRequestId(id)
            .build();
    long estimate = 0;
    for (EmbedInput input : embed.getInputsList()) {
      estimate +=
          input.hasTokenIds()
              ? input.getTokenIds().getIdsCount()
              : (input.getText().getBytes(StandardCharsets.UTF_8).length + 3) / 4;
    }
    return new RequestFacts(id, tenant, head, grant, arrived, deadline, estimate, 0, embed);
  }

  /** Whether this is an embedding request. */
  boolean embeds() {
    return embed != null;
  }

  /** Bytes the request holds while it waits. */
  long requestBytes() {
    return embed != null ? embed.getSerializedSize() : request.getSerializedSize();
  }

  /**
   * The Embed call to a worker; {@code virtualTokenCounter} is the tenant's fair-queue position.
   */
  WorkerEmbedRequest workerEmbedRequest(double virtualTokenCounter) {
    return WorkerEmbedRequest.newBuilder()
        .setRequestId(requestId)
        .setAdapter(adapterName())
        .addAllInputs(embed.getInputsList())
        .setDimensions(embed.getDimensions())
        .setTenant(tenant.name())
        .setPriority(priority())
        .setVirtualTokenCounter(virtualTokenCounter)
        .build();
  }

  private int priority() {
    return switch (tenant.priority()) {
      case High -> 2;
      case Normal -> 1;
      case Low -> 0;
    };
  }

  /**
   * What the tenant's token budget reserves at admission: the prompt (computed once) plus
   * max_tokens for each choice.
   */
  long reservedTokens() {
    return promptEstimate + (long) choices() * maxTokens;
  }

  /** The request's choices (sampling.n, 0 meaning 1). */
  int choices() {
    return Math.max(1, request.getSampling().getN());
  }

  /** The model as {@code namespace/name}; empty when the request never resolved one. */
  String modelKey() {
    return grant == null ? "" : grant.model().key();
  }

  /** The granted adapter, else the one a refused request asked for; empty for the base model. */
  String adapterName() {
    return grant == null || grant.adapter() == null ? request.getAdapter() : grant.adapter().name();
  }

  /** The call to a worker; {@code virtualTokenCounter} is the tenant's fair-queue position. */
  WorkerGenerateRequest workerRequest(double virtualTokenCounter) {
    SamplingParams.Builder sampling = request.getSampling().toBuilder().setMaxTokens(maxTokens);
    if (ToolCallSink.endsAfterFirstCall(request)) {
      sampling.addStop(ToolCallSink.CALL_END);
    }
    WorkerGenerateRequest.Builder w =
        WorkerGenerateRequest.newBuilder()
            .setRequestId(requestId)
            .setAdapter(adapterName())
            .setSampling(sampling)
            .setLogprobs(request.getLogprobs())
            .setTenant(tenant.name())
            .setPriority(
                switch (tenant.priority()) {
                  case High -> 2;
                  case Normal -> 1;
                  case Low -> 0;
                })
            .setVirtualTokenCounter(virtualTokenCounter)
            .setResponseFormat(request.getResponseFormat())
            .setToolChoice(request.getToolChoice());
    switch (request.getInputCase()) {
      case PROMPT_TOKEN_IDS -> w.setPromptTokenIds(request.getPromptTokenIds());
      case CHAT -> w.setChat(request.getChat());
      default -> w.setPrompt(request.getPrompt());
    }
    return w.build();
  }

  /**
   * Prompt tokens before the worker has counted them: exact for token ids, else one token per four
   * bytes of UTF-8 (a common rule of thumb for BPE vocabularies); for a chat, of its JSON, which
   * the worker renders into a prompt of about that size. Settled exactly later.
   */
  static long estimatePromptTokens(GenerateRequest r) {
    if (r.hasPromptTokenIds()) {
      return r.getPromptTokenIds().getIdsCount();
    }
    if (r.hasChat()) {
      long bytes =
          r.getChat().getMessagesJson().getBytes(StandardCharsets.UTF_8).length
              + r.getChat().getToolsJson().getBytes(StandardCharsets.UTF_8).length
              + r.getChat().getDocumentsJson().getBytes(StandardCharsets.UTF_8).length;
      return (bytes + 3) / 4;
    }
    return (r.getPrompt().getBytes(StandardCharsets.UTF_8).length + 3) / 4;
  }
}
