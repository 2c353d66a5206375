package dev.flotilla.gateway.authz;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.rpc.ResourceInfo;
import dev.flotilla.api.crd.Priority;
import dev.flotilla.api.crd.Visibility;
import dev.flotilla.gateway.Fixtures;
import dev.flotilla.gateway.auth.TenantInfo;
import dev.flotilla.gateway.catalog.AdapterEntry;
import dev.flotilla.gateway.catalog.ModelCatalog;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class AuthorizerTest {
  private final ModelCatalog catalog = new ModelCatalog();
  private final Authorizer authorizer = new Authorizer(catalog);

  private static TenantInfo tenant(String name, String... allowed) {
    return new TenantInfo(name, List.of(allowed), null, null, null, null, 1, Priority.Normal);
  }

  @BeforeEach
  void catalog() {
    catalog.onModel(Fixtures.model("default", "tiny-llama", "30s"));
    catalog.onModel(Fixtures.model("research", "tiny-llama", "30s"));
    catalog.onModel(Fixtures.model("default", "big-llama", null));
    catalog.onAdapter(
        Fixtures.adapter("default", "acme-support", "tiny-llama", "acme", Visibility.Private));
    catalog.onAdapter(
        Fixtures.adapter("default", "globex-legal", "tiny-llama", "globex", Visibility.Private));
    catalog.onAdapter(Fixtures.adapter("default", "sql", "tiny-llama", null, Visibility.Public));
    catalog.onAdapter(
        Fixtures.adapter("default", "big-only", "big-llama", null, Visibility.Public));
  }

  private static Status.Code codeOf(Runnable r) {
    try {
      r.run();
      return Status.Code.OK;
    } catch (StatusRuntimeException e) {
      return e.getStatus().getCode();
    }
  }

  @ParameterizedTest(name = "{0} allowed {1}: {2} + ''{3}'' -> {4}")
  @CsvSource({
    "acme, default/tiny-llama, default/tiny-llama, '', OK",
    "acme, default/tiny-llama, default/tiny-llama, acme-support, OK",
    "acme, default/tiny-llama, default/tiny-llama, sql, OK",
    "acme, default/tiny-llama, default/tiny-llama, globex-legal, NOT_FOUND",
    "acme, default/tiny-llama, default/tiny-llama, nope, NOT_FOUND",
    "acme, default/tiny-llama, default/tiny-llama, big-only, NOT_FOUND",
    "acme, default/tiny-llama, default/big-llama, '', NOT_FOUND",
    "acme, default/tiny-llama, research/tiny-llama, '', NOT_FOUND",
    "acme, default/tiny-llama, tiny-llama, '', OK",
    "acme, default/tiny-llama, big-llama, big-only, NOT_FOUND",
    "acme, tiny-llama, research/tiny-llama, '', OK",
    "acme, tiny-llama, tiny-llama, '', INVALID_ARGUMENT",
    "acme, *, big-llama, big-only, OK",
    "acme, *, default/missing, '', NOT_FOUND",
    "acme, *, '', '', INVALID_ARGUMENT",
    "globex, *, default/tiny-llama, globex-legal, OK",
    "globex, *, default/tiny-llama, acme-support, NOT_FOUND",
  })
  void decides(String tenant, String allowed, String model, String adapter, Status.Code code) {
    assertThat(codeOf(() -> authorizer.authorize(tenant(tenant, allowed), model, adapter)))
        .isEqualTo(code);
  }

  @Test
  void anAdapterTheOperatorFoundInvalidIsRefusedWithItsReasonAndNotListed() {
    catalog.onAdapter(
        Fixtures.rejectedAdapter(
            "default",
            "broken",
            "tiny-llama",
            "acme",
            "rank 128 exceeds the deployment's maxLoraRank 64"));
    TenantInfo acme = tenant("acme", "default/tiny-llama");

    assertThatThrownBy(() -> authorizer.authorize(acme, "default/tiny-llama", "broken"))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
              assertThat(e.getStatus().getDescription())
                  .isEqualTo(
                      "adapter broken failed validation: rank 128 exceeds the deployment's maxLoraRank 64");
            });
    assertThat(
            codeOf(
                () ->
                    authorizer.authorize(
                        tenant("globex", "default/tiny-llama"), "default/tiny-llama", "broken")))
        .as("another tenant learns nothing about it")
        .isEqualTo(Status.Code.NOT_FOUND);
    assertThat(authorizer.visibleTo(acme))
        .flatExtracting(Authorizer.ModelView::adapters)
        .extracting(AdapterEntry::name)
        .contains("acme-support")
        .doesNotContain("broken");
  }

  @Test
  void aTenantWithoutAllowedModelsMayUseNone() {
    assertThat(codeOf(() -> authorizer.authorize(tenant("acme"), "big-llama", "")))
        .isEqualTo(Status.Code.NOT_FOUND);
  }

  /**
   * The status a refusal carries, its details included, with the name asked for replaced (callers
   * compare names of one length, so the details' length prefixes compare too).
   */
  private String refusal(TenantInfo tenant, String model, String adapter, String asked) {
    try {
      authorizer.authorize(tenant, model, adapter);
    } catch (StatusRuntimeException e) {
      return StatusProto.fromThrowable(e).toString().replace(asked, "<asked>");
    }
    throw new AssertionError("authorized " + model + " " + adapter);
  }

  @Test
  void whatATenantMayNotUseIsRefusedExactlyAsWhatDoesNotExist() {
    TenantInfo acme = tenant("acme", "default/tiny-llama");
    assertThat(refusal(acme, "default/big-llama", "", "default/big-llama"))
        .as("a model it may not use")
        .isEqualTo(refusal(acme, "default/gib-llama", "", "default/gib-llama"));
    assertThat(refusal(acme, "research/tiny-llama", "", "research/tiny-llama"))
        .as("the same name in a namespace it may not use")
        .isEqualTo(refusal(acme, "research/tiny-lmaal", "", "research/tiny-lmaal"));
    assertThat(refusal(acme, "default/tiny-llama", "globex-legal", "globex-legal"))
        .as("another tenant's private adapter")
        .isEqualTo(refusal(acme, "default/tiny-llama", "globex-lagel", "globex-lagel"));
    catalog.onAdapter(
        Fixtures.rejectedAdapter("default", "globex-broken", "tiny-llama", "globex", "rank 128"));
    assertThat(refusal(acme, "default/tiny-llama", "globex-broken", "globex-broken"))
        .as("another tenant's private adapter that failed validation")
        .isEqualTo(refusal(acme, "default/tiny-llama", "globex-borken", "globex-borken"));
  }

  @Test
  void notFoundNamesTheResource() {
    assertThatThrownBy(() -> authorizer.authorize(tenant("acme", "*"), "big-llama", "ghost"))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              ResourceInfo info =
                  StatusProto.fromThrowable(e).getDetailsList().stream()
                      .filter(d -> d.is(ResourceInfo.class))
                      .findFirst()
                      .map(
                          d -> {
                            try {
                              return d.unpack(ResourceInfo.class);
                            } catch (Exception x) {
                              throw new IllegalStateException(x);
                            }
                          })
                      .orElseThrow();
              assertThat(info.getResourceType()).isEqualTo(Authorizer.ADAPTER_TYPE);
              assertThat(info.getResourceName()).isEqualTo("default/ghost");
            });
  }

  @Test
  void listingShowsOnlyAllowedModelsAndVisibleAdapters() {
    List<Authorizer.ModelView> views =
        authorizer.visibleTo(tenant("acme", "default/tiny-llama", "big-llama"));
    assertThat(views)
        .extracting(v -> v.model().key())
        .containsExactly("default/big-llama", "default/tiny-llama");
    assertThat(views.get(1).adapters())
        .extracting(AdapterEntry::name)
        .containsExactly("acme-support", "sql");
    assertThat(views.get(0).adapters()).extracting(AdapterEntry::name).containsExactly("big-only");
  }
}
