/** Which TLS files a tcp:// docker entry uses: its tls_* fields, else the docker CLI's environment. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tlsFiles } from "../../src/backend/docker/tls.js";
import type { DockerEntry } from "../../src/backend/docker/entry.js";
import { tempDir } from "../helpers/cli.js";

const entry = (fields: Partial<DockerEntry> = {}): DockerEntry => ({ id: "r:box", name: "box", kind: "exec.docker", default_env: {}, where: "cfg: entry 'r:box'", image: "x", ...fields });

describe("docker TLS files", () => {
  it("the entry's fields win, paths resolved; none set and no TLS env: plain HTTP", () => {
    expect(tlsFiles(entry({ host: "tcp://h:2376", tls_ca: "/a/ca.pem" }), {})).toEqual({ tls_ca: { path: "/a/ca.pem", label: "field 'tls_ca'" } });
    expect(tlsFiles(entry({ host: "tcp://h:2375" }), {})).toBeUndefined();
    expect(tlsFiles(entry(), { DOCKER_HOST: "tcp://h:2375" })).toBeUndefined();
  });

  it("DOCKER_TLS_VERIFY applies only when the host also comes from the environment", () => {
    const dir = tempDir({ "ca.pem": "x", "cert.pem": "x", "key.pem": "x" });
    const env = { DOCKER_HOST: "tcp://h:2376", DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: dir };
    expect(tlsFiles(entry(), env)).toEqual({
      tls_ca: { path: join(dir, "ca.pem"), label: "ca.pem in $DOCKER_CERT_PATH" },
      tls_cert: { path: join(dir, "cert.pem"), label: "cert.pem in $DOCKER_CERT_PATH" },
      tls_key: { path: join(dir, "key.pem"), label: "key.pem in $DOCKER_CERT_PATH" },
    });
    expect(tlsFiles(entry({ host: "tcp://other:2376" }), env)).toBeUndefined();
    // Fields set: the environment's files are not mixed in.
    expect(Object.keys(tlsFiles(entry({ tls_ca: "/x" }), env)!)).toEqual(["tls_ca"]);
  });

  it("a cert directory with cert.pem but no key.pem is an error naming the missing file", () => {
    const dir = tempDir({ "ca.pem": "x", "cert.pem": "x" });
    expect(() => tlsFiles(entry(), { DOCKER_TLS_VERIFY: "1", DOCKER_CERT_PATH: dir })).toThrow(`cfg: entry 'r:box': $DOCKER_TLS_VERIFY is set but ${join(dir, "key.pem")} is missing`);
    writeFileSync(join(dir, "key.pem"), "x");
    expect(Object.keys(tlsFiles(entry(), { DOCKER_TLS: "1", DOCKER_CERT_PATH: dir })!)).toEqual(["tls_ca", "tls_cert", "tls_key"]);
  });
});
