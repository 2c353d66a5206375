package dev.flotilla.operator.status;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import java.net.HttpURLConnection;
import java.time.Duration;

/**
 * The one way the operator writes the status of its custom resources: a JSON patch on the {@code
 * status} subresource that replaces {@code status} whole and sets {@code metadata.resourceVersion}
 * to the version the status was computed from, which the API server treats as a precondition (409
 * Conflict when the resource changed since). Spec and the rest of the metadata are never written.
 *
 * <p>Why the precondition: Java Operator SDK's own status patch ({@code UpdateControl.patchStatus})
 * sends no resourceVersion, so it succeeds on top of a spec change made after the reconcile read
 * the resource. The SDK then takes every watch event up to its own write's resourceVersion for its
 * own and drops them, the spec change's event included; a resource at rest (nothing rescheduled)
 * then never reconciles that generation. With the precondition such a write fails instead, the spec
 * change's event is delivered, and the next reconcile works from the new spec.
 *
 * <p>Why a JSON patch and not a merge patch: a merge patch leaves fields the status classes omit
 * (nulls) in place, and the in-memory API server used in tests merges arrays by appending.
 */
public final class StatusWriter {
  /**
   * When to look again after a write found the resource changed. A spec change's event comes
   * sooner; a status-only change (another writer, e.g. a leader that just stepped down) brings no
   * event past the SDK's generation filter, and a resource that ticks must keep ticking.
   */
  public static final Duration RETRY_AFTER_CONFLICT = Duration.ofMillis(200);

  private StatusWriter() {}

  /**
   * Writes {@code status} over the status of {@code read}, the resource as this reconcile read it.
   * The response goes into the SDK's cache, so the next reconcile sees it, and its own watch event
   * does not wake the reconciler again.
   *
   * @return {@code false} when the resource changed since it was read, or is gone: nothing was
   *     written; reconcile again after {@link #RETRY_AFTER_CONFLICT}
   */
  public static <S, P extends CustomResource<?, S>> boolean write(
      Context<P> context, P read, S status) {
    KubernetesSerialization json = context.getClient().getKubernetesSerialization();
    String body = json.asJson(patch(json, read, status));
    try {
      context
          .resourceOperations()
          .resourcePatch(
              read,
              r ->
                  context
                      .getClient()
                      .resource(r)
                      .subresource("status")
                      .patch(PatchContext.of(PatchType.JSON), body),
              context.eventSourceRetriever().getControllerEventSource());
      return true;
    } catch (KubernetesClientException e) {
      if (e.getCode() == HttpURLConnection.HTTP_CONFLICT
          || e.getCode() == HttpURLConnection.HTTP_NOT_FOUND) {
        return false;
      }
      throw e;
    }
  }

  /**
   * {@code [add /metadata/resourceVersion (the one read), add /status]}: {@code add} replaces a
   * member that exists.
   */
  static ArrayNode patch(KubernetesSerialization json, HasMetadata read, Object status) {
    ArrayNode patch = JsonNodeFactory.instance.arrayNode();
    patch
        .addObject()
        .put("op", "add")
        .put("path", "/metadata/resourceVersion")
        .put("value", read.getMetadata().getResourceVersion());
    patch
        .addObject()
        .put("op", "add")
        .put("path", "/status")
        .set("value", json.convertValue(status, JsonNode.class));
    return patch;
  }
}
