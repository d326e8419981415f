# The control-plane API server. Host backends (Docker socket, libvirt, OVS) are reached from inside.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY templates ./templates
ENV PORT=8080
EXPOSE 8080
# node itself, not npx: SIGTERM (docker stop) must reach the server, which shuts down gracefully.
CMD ["node", "--import", "tsx", "src/main.ts"]
