// Registered by the Docker backend work (issue 3).
export {};
