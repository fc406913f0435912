// The tenant's pages, in navigation order; `operatorOnly` pages are shown to operator keys only.

import { t } from "../i18n.js";
import { overview, usage, calls, refused } from "./activity.js";
import { wallet } from "./wallet.js";
import { users, simulator, numbers, webhooks } from "./directory.js";
import { reports } from "./reports.js";
import { rerate } from "./rerate.js";
import { fraud } from "./fraud.js";

export const TENANT_PAGES = [
  { id: "overview", group: "tenant", label: () => t("nav.overview"), render: overview },
  { id: "usage", group: "tenant", label: () => t("nav.usage"), render: usage },
  { id: "calls", group: "tenant", label: () => t("nav.calls"), render: calls },
  { id: "refused", group: "tenant", label: () => t("nav.refused"), render: refused },
  { id: "wallet", group: "tenant", label: () => t("nav.wallet"), render: wallet },
  { id: "users", group: "tenant", label: () => t("nav.users"), render: users },
  { id: "simulator", group: "tenant", label: () => t("nav.simulator"), render: simulator },
  { id: "fraud", group: "tenant", label: () => t("nav.fraud"), render: fraud },
  { id: "numbers", group: "tenant", label: () => t("nav.numbers"), render: numbers },
  { id: "reports", group: "tenant", label: () => t("nav.reports"), render: reports },
  { id: "webhooks", group: "tenant", label: () => t("nav.webhooks"), render: webhooks },
  { id: "rerate", group: "tenant", operatorOnly: true, label: () => t("nav.rerate"), render: rerate },
];
