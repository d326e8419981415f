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
CMD ["npx", "tsx", "src/main.ts"]
