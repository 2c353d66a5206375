package dev.flotilla.api.crd;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;

/**
 * A Secret holding API-key hashes. Each selected data entry is {@code sha256:<64 hex digits>} of a
 * key; plain keys are never stored.
 *
 * <p>The Secret must carry the label {@link #LABEL}{@code =}{@link #LABEL_VALUE}: the gateway and
 * the operator watch only Secrets with it, so that neither keeps the cluster's other Secrets in
 * memory.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class SecretKeyReference {
  /** The label every API-key Secret carries. */
  public static final String LABEL = "flotilla.dev/tenant-keys";

  public static final String LABEL_VALUE = "true";

  /** {@link #LABEL}{@code =}{@link #LABEL_VALUE}, as a label selector. */
  public static final String LABEL_SELECTOR = LABEL + "=" + LABEL_VALUE;

  @Required
  @Pattern(FlotillaResources.NAME_PATTERN)
  private String namespace;

  @Required
  @Pattern(FlotillaResources.NAME_PATTERN)
  private String name;

  @JsonPropertyDescription("Data key to read; every entry of the Secret when unset.")
  private String key;

  public String getNamespace() {
    return namespace;
  }

  public void setNamespace(String namespace) {
    this.namespace = namespace;
  }

  public String getName() {
    return name;
  }

  public void setName(String name) {
    this.name = name;
  }

  public String getKey() {
    return key;
  }

  public void setKey(String key) {
    this.key = key;
  }
}
