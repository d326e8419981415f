/**
 * Images: a registered image is any Docker image reference on this host (pulled first where a registry is
 * reachable); a captured image is a `docker commit` of an instance, tagged thecloud/ami:<image id>.
 */
import type Docker from 'dockerode';
import type { BackendImageInfo } from '../../ports/index.js';
import { CAPTURE_REPO, LABEL_MANAGED, containerId, imageId as checkImageId, imageRef } from './names.js';
import { dockerMessage, isStatus } from './errors.js';

const GiB = 1024 ** 3;
const ARCHITECTURES: Record<string, BackendImageInfo['architecture']> = { amd64: 'x86_64', arm64: 'arm64' };

export class DockerImages {
  constructor(private readonly docker: Docker) {}

  async inspect(location: string): Promise<BackendImageInfo> {
    const ref = imageRef(location);
    return describe(ref, await this.inspectOrPull(ref));
  }

  /**
   * The image's own configuration (entrypoint, command, user), for a launch. An image that is not on this host
   * (registered elsewhere, or removed since with `docker rmi`) is pulled first, as on first use.
   */
  async config(location: string): Promise<Docker.ImageInspectInfo> {
    return this.inspectOrPull(imageRef(location));
  }

  private async inspectOrPull(ref: string): Promise<Docker.ImageInspectInfo> {
    try {
      return await this.docker.getImage(ref).inspect();
    } catch (e) {
      if (!isStatus(e, 404)) throw e;
    }
    try {
      const stream = await this.docker.pull(ref);
      const events = await new Promise<Array<{ error?: string }>>((resolve, reject) =>
        this.docker.modem.followProgress(stream, (err: Error | null, out: Array<{ error?: string }>) => (err ? reject(err) : resolve(out))),
      );
      // A failed pull still ends the stream normally; the failure is an {"error": ...} event.
      const failed = events.find((ev) => ev.error);
      if (failed) throw new Error(failed.error);
      return await this.docker.getImage(ref).inspect();
    } catch (e) {
      throw new Error(`Docker image ${ref} is not on this host and could not be pulled: ${dockerMessage(e)}`, { cause: e });
    }
  }

  /**
   * docker commit of the instance to thecloud/ami:<imageId>. The container runs the init wrapper; the image
   * gets back the entrypoint, command and user of the image the instance was launched from.
   */
  async capture(backendId: string, imageId: string): Promise<BackendImageInfo> {
    const id = containerId(backendId);
    checkImageId(imageId);
    const container = this.docker.getContainer(id);
    const info = await container.inspect();
    const source = (await this.docker.getImage(info.Image).inspect()).Config;
    // The configuration goes in the request body, not as `changes` (Dockerfile lines): `ENTRYPOINT []` there
    // is read as "not given", and Docker then keeps the container's entrypoint, our wrapper. An empty list in
    // the body does clear it. Fields left out (Env, WorkingDir ...) are taken from the container.
    await container.commit({
      _query: { container: info.Id, repo: CAPTURE_REPO, tag: imageId, comment: `The Cloud image ${imageId}` },
      _body: {
        Entrypoint: source.Entrypoint ?? [],
        Cmd: source.Cmd ?? [],
        User: source.User || '0',
        // The instance's labels are committed too; an image is not a managed instance.
        Labels: { [LABEL_MANAGED]: 'false' },
      },
    });
    return this.inspect(`${CAPTURE_REPO}:${imageId}`);
  }

  /** Removes a captured image (only those: never a base image someone registered). Idempotent. */
  async delete(ref: string): Promise<void> {
    const r = imageRef(ref);
    if (!r.startsWith(`${CAPTURE_REPO}:`)) throw new Error(`refusing to delete ${ref}: only ${CAPTURE_REPO}:<image id> images are deleted`);
    checkImageId(r.slice(CAPTURE_REPO.length + 1));
    try {
      // force: untag even while stopped instances still use the image (their layers stay until they go).
      await this.docker.getImage(r).remove({ force: true });
    } catch (e) {
      if (!isStatus(e, 404)) throw e;
    }
  }
}

function describe(ref: string, info: Docker.ImageInspectInfo): BackendImageInfo {
  const architecture = ARCHITECTURES[info.Architecture];
  if (!architecture) throw new Error(`Docker image ${ref} is for ${info.Architecture}; only amd64 and arm64 are supported`);
  return { ref, architecture, sizeGiB: Math.max(1, Math.ceil(info.Size / GiB)) };
}
