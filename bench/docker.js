// Docker benchmarks (written with the Docker backend).
import { skip } from "./lib.js";
export async function benchDocker() {
  skip("docker", "not written yet");
}
