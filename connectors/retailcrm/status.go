package retailcrm

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/ringside/ringside/connectors"
)

// SetStatus sets the agent's status in retailCRM: POST
// /api/v5/users/{user_id}/status with status= free, busy, dinner or break
// (connectors.AgentStatus spells them so). It needs user_id. Call it when
// the agent picks a status in the tray, not for a status retailCRM itself
// reported through change_user_status_url: that would echo it back. It
// blocks on the network.
func (c *CRM) SetStatus(ctx context.Context, s connectors.AgentStatus) error {
	if c.userID == 0 {
		return connectors.Permanent(fmt.Errorf("retailcrm: set status: user_id is not set: give the agent's retailCRM user id in the settings"))
	}
	switch s {
	case connectors.StatusFree, connectors.StatusBusy, connectors.StatusDinner, connectors.StatusBreak:
	default:
		return connectors.Permanent(fmt.Errorf("retailcrm: set status: %v is not one of free, busy, dinner, break", s))
	}
	_, err := c.do(ctx, request{
		method: http.MethodPost,
		path:   pathUsers + strconv.FormatInt(c.userID, 10) + "/status",
		form:   url.Values{"status": {s.String()}},
	})
	if err != nil {
		return fmt.Errorf("retailcrm: set status %v: %w", s, err)
	}
	c.logger.Debug("retailcrm: status set", "status", s.String())
	return nil
}
