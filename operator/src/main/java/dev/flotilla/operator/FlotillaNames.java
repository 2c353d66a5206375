package dev.flotilla.operator;

import io.fabric8.kubernetes.api.model.HasMetadata;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Names, labels and annotations of everything the operator creates: the one place they are spelled.
 */
public final class FlotillaNames {
  public static final String WORKER_APP = "flotilla-worker";
  public static final String LABEL_NAME = "app.kubernetes.io/name";
  public static final String LABEL_INSTANCE = "app.kubernetes.io/instance";
  public static final String LABEL_MANAGED_BY = "app.kubernetes.io/managed-by";
  public static final String LABEL_MODEL = "flotilla.dev/model";
  public static final String MANAGED_BY = "flotilla-operator";

  /** Hash of the worker pod template; a change means the workers must roll. */
  public static final String ANNOTATION_TEMPLATE_HASH = "flotilla.dev/template-hash";

  /** The pool the workers were placed on, on the worker Deployment, for people. */
  public static final String ANNOTATION_POOL = "flotilla.dev/pool";

  public static final String WORKER_CONTAINER = "worker";
  public static final String GRPC_PORT_NAME = "grpc";
  public static final int GRPC_PORT = 9100;
  public static final String HTTP_PORT_NAME = "http";
  public static final int HTTP_PORT = 8081;
  public static final String GPU_RESOURCE = "nvidia.com/gpu";

  /** Where a worker's TLS Secret is mounted; the worker reads it from FLOTILLA_MTLS_DIR. */
  public static final String MTLS_VOLUME = "mtls";

  public static final String MTLS_MOUNT_PATH = "/var/run/flotilla/mtls";

  private FlotillaNames() {}

  /** The worker Deployment of a ModelDeployment. */
  public static String workerDeployment(String modelDeployment) {
    return modelDeployment + "-worker";
  }

  /** The headless Service in front of a ModelDeployment's workers. */
  public static String workerService(String modelDeployment) {
    return modelDeployment + "-workers";
  }

  /** The TLS Secret a model's workers mount: their serving certificate and the trust bundle. */
  public static String workerMtlsSecret(String modelDeployment) {
    return modelDeployment + "-worker-mtls";
  }

  /** The NetworkPolicy that guards a model's workers. */
  public static String workerNetworkPolicy(String modelDeployment) {
    return modelDeployment + "-worker";
  }

  /** host:port gateways dial for a model's workers (they resolve the headless Service's pods). */
  public static String workerEndpoint(String namespace, String modelDeployment) {
    return workerService(modelDeployment) + "." + namespace + ".svc:" + GRPC_PORT;
  }

  /** {@code namespace/name}, how the worker and the gateway name a model. */
  public static String qualifiedName(HasMetadata resource) {
    return resource.getMetadata().getNamespace() + "/" + resource.getMetadata().getName();
  }

  /** Name clients use for an adapter: {@code <modelDeployment>:<adapter>}. */
  public static String servedAdapterName(String modelDeployment, String adapter) {
    return modelDeployment + ":" + adapter;
  }

  /**
   * Labels that select a model's worker pods (Deployment selector, Service selector, scale
   * selector).
   */
  public static Map<String, String> workerSelector(String modelDeployment) {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put(LABEL_NAME, WORKER_APP);
    labels.put(LABEL_INSTANCE, modelDeployment);
    labels.put(LABEL_MODEL, modelDeployment);
    return labels;
  }

  /** Labels on every object made for a model. */
  public static Map<String, String> workerLabels(String modelDeployment) {
    Map<String, String> labels = workerSelector(modelDeployment);
    labels.put(LABEL_MANAGED_BY, MANAGED_BY);
    return labels;
  }

  /** The selector as the scale subresource reports it: {@code k=v,k=v}. */
  public static String selectorString(String modelDeployment) {
    StringBuilder out = new StringBuilder();
    workerSelector(modelDeployment)
        .forEach(
            (k, v) -> {
              if (out.length() > 0) {
                out.append(',');
              }
              out.append(k).append('=').append(v);
            });
    return out.toString();
  }
}
