package dev.flotilla.gateway.auth;

import static dev.flotilla.gateway.Fixtures.keySecret;
import static dev.flotilla.gateway.Fixtures.sha256Entry;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flotilla.api.crd.Priority;
import dev.flotilla.api.crd.TenantLimits;
import dev.flotilla.gateway.Fixtures;
import dev.flotilla.gateway.TestLogs;
import dev.flotilla.gateway.status.GatewayStatus;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.NullSource;
import org.junit.jupiter.params.provider.ValueSource;

class ApiKeyAuthenticatorTest {
  private static final String ACME_KEY = "flk_acme_demo_7f3c9a1e5b2d";
  private final TenantDirectory directory = new TenantDirectory();
  private final ApiKeyAuthenticator auth = new ApiKeyAuthenticator(directory);

  @BeforeAll
  static void quiet() {
    TestLogs.quiet(TenantDirectory.class.getName());
  }

  @BeforeEach
  void tenants() {
    directory.onTenant(
        Fixtures.tenant(
            "acme", "acme-api-keys", List.of("*"), 2, Priority.High, new TenantLimits()));
    directory.onSecret(
        keySecret(
            "default",
            "acme-api-keys",
            "demo",
            sha256Entry(ACME_KEY),
            "rotated",
            sha256Entry("flk_acme_second")));
  }

  @Test
  void aKnownKeyNamesItsTenant() {
    TenantInfo t = auth.authenticate("Bearer " + ACME_KEY);
    assertThat(t.name()).isEqualTo("acme");
    assertThat(t.weight()).isEqualTo(2);
    assertThat(t.priority()).isEqualTo(Priority.High);
    assertThat(auth.authenticate("bearer   flk_acme_second ").name()).isEqualTo("acme");
  }

  @Test
  void aSecretWithoutTheKeyLabelIsNeitherKeptNorUsed() {
    directory.onSecret(
        Fixtures.unlabelledSecret("default", "acme-api-keys", "demo", sha256Entry(ACME_KEY)));

    assertThat(directory.secretCount()).isZero();
    assertThatThrownBy(() -> auth.authenticate("Bearer " + ACME_KEY))
        .isInstanceOf(StatusRuntimeException.class);
  }

  @Test
  void theExampleHashMatchesTheDocumentedDemoKey() {
    // examples/tenants.yaml holds this hash for the demo key; the gateway must accept it as is.
    directory.onSecret(
        keySecret(
            "default",
            "acme-api-keys",
            "demo",
            "sha256:6e359f52948d813b2e6422b7b3cf6ec811c292ffd98e14c06741c40b53a9aff2"));
    assertThat(auth.authenticate("Bearer " + ACME_KEY).name()).isEqualTo("acme");
  }

  @ParameterizedTest
  @NullSource
  @ValueSource(
      strings = {
        "",
        "Bearer",
        "Bearer ",
        "Basic Zm9vOmJhcg==",
        ACME_KEY,
        "Bearer flk_wrong",
        "Bearer " + ACME_KEY + "x",
        "Bearer flk acme",
        "Token " + ACME_KEY
      })
  void everyFailureIsTheSameUnauthenticated(String header) {
    assertThatThrownBy(() -> auth.authenticate(header))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAUTHENTICATED);
              assertThat(e.getStatus().getDescription())
                  .isEqualTo(GatewayStatus.UNAUTHENTICATED_MESSAGE);
            });
  }

  @Test
  void secretAndTenantEventsUpdateTheIndex() {
    directory.onSecret(keySecret("default", "acme-api-keys", "demo", sha256Entry("flk_new")));
    assertThatThrownBy(() -> auth.authenticate("Bearer " + ACME_KEY))
        .isInstanceOf(StatusRuntimeException.class);
    assertThat(auth.authenticate("Bearer flk_new").name()).isEqualTo("acme");
    directory.onTenantDeleted("acme");
    assertThatThrownBy(() -> auth.authenticate("Bearer flk_new"))
        .isInstanceOf(StatusRuntimeException.class);
  }

  @Test
  void aDeletedSecretRevokesItsKeys() {
    directory.onSecretDeleted("default", "acme-api-keys");
    assertThatThrownBy(() -> auth.authenticate("Bearer " + ACME_KEY))
        .isInstanceOf(StatusRuntimeException.class);
    assertThat(directory.keyCount()).isZero();
  }

  @Test
  void onlyTheReferencedKeyAndWellFormedHashesCount() {
    var t = Fixtures.tenant("globex", "globex-keys", List.of("*"), 1, Priority.Low, null);
    t.getSpec().getApiKeySecrets().get(0).setKey("live");
    directory.onTenant(t);
    directory.onSecret(
        keySecret(
            "default",
            "globex-keys",
            "live",
            sha256Entry("flk_globex_live"),
            "other",
            sha256Entry("flk_globex_other"),
            "bad",
            "sha256:nothex"));
    assertThat(auth.authenticate("Bearer flk_globex_live").name()).isEqualTo("globex");
    assertThatThrownBy(() -> auth.authenticate("Bearer flk_globex_other"))
        .isInstanceOf(StatusRuntimeException.class);
    assertThat(directory.keyCount()).isEqualTo(3); // acme's two + globex's one
  }

  @Test
  void aPlainKeyStoredInASecretIsNotAccepted() {
    directory.onSecret(keySecret("default", "acme-api-keys", "plain", ACME_KEY));
    assertThatThrownBy(() -> auth.authenticate("Bearer " + ACME_KEY))
        .isInstanceOf(StatusRuntimeException.class);
  }
}
