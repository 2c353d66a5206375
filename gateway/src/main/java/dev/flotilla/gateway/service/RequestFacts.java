package dev.flotilla.gateway.service;

import dev.flotilla.api.v1.GenerateRequest;
import dev.flotilla.api.v1.SamplingParams;
import dev.flotilla.api.worker.v1.WorkerGenerateRequest;
import dev.flotilla.gateway.auth.TenantInfo;
import dev.flotilla.gateway.authz.Authorizer;
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
 * @param maxTokens the request's {@code max_tokens}, else the gateway's default
 */
record RequestFacts(
    String requestId,
    TenantInfo tenant,
    GenerateRequest request,
    Authorizer.Grant grant,
    long arrived,
    Deadline deadline,
    long promptEstimate,
    int maxTokens) {

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
        id, tenant, request, grant, arrived, deadline, estimatePromptTokens(request), maxTokens);
  }

  /** What the tenant's token budget reserves at admission: the prompt plus max_tokens. */
  long reservedTokens() {
    return promptEstimate + maxTokens;
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
    SamplingParams sampling = request.getSampling().toBuilder().setMaxTokens(maxTokens).build();
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
            .setVirtualTokenCounter(virtualTokenCounter);
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
